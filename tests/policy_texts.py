"""Policy profiles for tests that are not about a shipped profile (those have their own
scenarios): one permissive operational profile, and a way to add sections to it."""

from __future__ import annotations

PERMISSIVE = """
name = "test-permissive"
title = "Permissive test profile"
summary = "For tests of the machinery: any offence, approval first (emergency: within 48 hours)."
[requests]
legal_bases = ["court-order", "warrant", "emergency", "deceased-identification"]
required_fields = ["case_number", "offence_category", "legal_basis", "justification"]
approval_before_search = true
emergency_bases = ["emergency"]
emergency_deadline_hours = 48
[search]
max_candidates = 100
"""


def permissive(**tables: dict[str, object]) -> str:
    """:data:`PERMISSIVE` plus TOML tables, e.g. ``permissive(retention={"probe_images": 30})``."""
    text = PERMISSIVE
    for name, values in tables.items():
        body = "\n".join(f"{key} = {_toml(value)}" for key, value in values.items())
        text += f"[{name}]\n{body}\n"
    return text


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
