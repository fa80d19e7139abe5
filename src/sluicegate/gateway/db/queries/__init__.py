"""Queries, one module per aggregate (keys, users, teams, organizations, budgets, end_users, spend).

Routes never build SQL."""
