"""The gateway: a LiteLLM-compatible proxy server in front of the SDK."""
