"""Anthropic's Messages API in front of any model: Anthropic requests in, OpenAI-format calls out, and back.

request.py, response.py and stream.py are pure translations; errors.py renders failures in Anthropic's shape;
messages.py runs the pipeline (auth, model group, prepare, send) that routes/anthropic.py exposes.
"""
