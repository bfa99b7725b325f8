"""Policy profiles: the rules an agency's searches run under, as data.

A profile is a TOML file (shipped ones live in ``facedocket/policy/profiles``); every rule in a
shipped profile cites its source. :func:`load_profile` validates one, :func:`explain` says it
in plain sentences, :func:`check_file` adds warnings for doubtful settings. See docs/policy.md.
"""

from facedocket.policy.explain import check_file, explain, profile_warnings
from facedocket.policy.schema import (
    ANY,
    FORBIDDEN_USES,
    LEGAL_BASES,
    OFFENCE_CATEGORIES,
    PROBE_SOURCES,
    PROFILES_DIR,
    REPORTING_PERIODS,
    REQUEST_FIELDS,
    RETENTION_RECORDS,
    PolicyProfile,
    load_profile,
    parse_profile,
    profile_from_dict,
    shipped_profiles,
)

__all__ = [
    "ANY",
    "FORBIDDEN_USES",
    "LEGAL_BASES",
    "OFFENCE_CATEGORIES",
    "PROBE_SOURCES",
    "PROFILES_DIR",
    "REPORTING_PERIODS",
    "REQUEST_FIELDS",
    "RETENTION_RECORDS",
    "PolicyProfile",
    "check_file",
    "explain",
    "load_profile",
    "parse_profile",
    "profile_from_dict",
    "profile_warnings",
    "shipped_profiles",
]
