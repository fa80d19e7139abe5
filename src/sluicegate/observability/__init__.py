"""What the SDK and gateway tell operators about themselves: metrics (`metrics.py`), later logs and traces.

Submodules are imported by name, never from here, so `import sluicegate` never loads prometheus_client.
"""
