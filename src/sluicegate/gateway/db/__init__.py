"""The gateway's database: tables (`models`), engines (`engine`), schema migrations (`migrate`, `migrations/`).

SQLite (a file, zero setup) is the embedded default; PostgreSQL (asyncpg) is for production and many instances.
"""
