"""Pooled HTTP clients, timeouts, retry with backoff and Retry-After, SSE decoding."""
