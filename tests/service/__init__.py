"""Service and store tests, each run against SQLite and a real PostgreSQL."""
