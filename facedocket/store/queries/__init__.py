"""Every SQL statement of FaceDocket: one module per area, functions that take a Session.

The service composes these; no other package writes SQL. Functions return ORM rows (which
the service may change inside its write transaction), plain values or frozen dataclasses.
Functions named ``lock_*`` read a row ``FOR NO KEY UPDATE`` (PostgreSQL, see ``store/locks.py``; on SQLite the write
transaction already holds the database's write lock).
"""
