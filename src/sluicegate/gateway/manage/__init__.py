"""The management API's services: keys, users, teams, organisations, budgets, end users, spend.

A route (gateway/routes/manage/) parses and calls one function here; the function checks who may do what
(access.py), validates, runs queries (gateway/db/queries/), records the change in the audit log (audit.py),
commits, and invalidates cached principals.
"""
