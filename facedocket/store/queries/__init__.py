"""Every SQL statement, one module per area: functions that take a Session and return plain
frozen dataclasses or tuples, never ORM rows. The store imports nothing above it (no
oversight, no service): what the rows mean is decided by the callers."""
