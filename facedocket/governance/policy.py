"""Policy profiles: the schema of the rules an agency's requests and searches run under, and
the one rule list that checks them.

A profile is data (a TOML file), not code. Every rule in a shipped profile carries a
comment naming its source. :func:`load_profile` validates a file against this schema and
raises :class:`~facedocket.errors.InvalidInput` with every problem named. Only the files
shipped in ``governance/profiles`` may carry a shipped profile's name (:func:`read_profile`
returns the text, whose SHA-256 is recorded wherever the profile is used).

The rules themselves (:data:`RULES`, in :mod:`facedocket.governance.rules`) are one list:
:func:`~facedocket.governance.rules.check_submission` runs the rules whose facts are known
when a request is submitted, :func:`~facedocket.governance.rules.check_search` runs them all,
so a request the policy would refuse at search for a reason known earlier is refused at
submission, with the same rule name.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from facedocket.errors import InvalidInput, NotFound
from facedocket.vocab import (
    LEGAL_BASES,
    MAX_RETENTION_DAYS,
    OFFENCE_CATEGORIES,
    PROBE_SOURCES,
    REQUEST_FIELDS,
    WATCHLIST_REASONS,
    ForbiddenUse,
    ReportingPeriod,
)

PROFILES_DIR = Path(__file__).with_name("profiles")

ANY = "*"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RequestRules(_Strict):
    legal_bases: list[str] = Field(description="Legal bases a request may cite.")
    required_fields: list[str] = Field(default_factory=list, description="Request fields that must be filled in.")
    document_required_for: list[str] = Field(
        default_factory=list,
        description="Legal bases whose document (type, reference, issuer, date) must be recorded.",
    )
    offence_categories: list[str] = Field(
        default_factory=lambda: [ANY], description="Offence categories a search may be made for; '*' allows all."
    )
    approval_before_search: bool = Field(True, description="A supervisor approves before anyone searches.")
    emergency_bases: list[str] = Field(
        default_factory=list, description="Legal bases that may search before approval (the emergency path)."
    )
    emergency_deadline_hours: float | None = Field(
        None, gt=0, description="Hours after an emergency search within which approval must come, or it is purged."
    )
    cross_agency: bool = Field(True, description="Requests may be addressed to another agency's face-search unit.")


class ProbeRules(_Strict):
    min_quality: float = Field(0.0, ge=0, le=1, description="Lowest probe quality score a search accepts.")
    forbidden_sources: list[str] = Field(default_factory=list, description="Probe sources that may not be searched.")


MAX_FLOOR_FMR = 1e-3
"""No profile may let a search use a threshold looser than the model's FMR 1e-3 threshold."""


class SearchRules(_Strict):
    threshold_floor_fmr: float = Field(
        MAX_FLOOR_FMR,
        gt=0,
        le=MAX_FLOOR_FMR,
        description="The loosest threshold a search may use, as a false-match rate (at most 1e-3); each "
        "search resolves it to a score through its model's card.",
    )
    max_candidates: int = Field(100, ge=1, le=1000, description="Most candidates one search may return.")
    gallery_purposes: list[str] = Field(
        default_factory=lambda: [ANY], description="Gallery purposes that may be searched; '*' allows all."
    )


class WatchlistRules(_Strict):
    """Who may be put on a watchlist and how strictly a deployment matches against one."""

    reasons: list[str] = Field(
        default_factory=list,
        description="Reason codes a watchlist entry may carry (from FaceDocket's fixed list); empty: no entry "
        "may be added.",
    )
    entry_approval: bool = Field(
        False,
        description="A second person (a supervisor other than the one who added it) approves each entry "
        "before it is matched.",
    )
    threshold_floor_fmr: float = Field(
        MAX_FLOOR_FMR,
        gt=0,
        le=MAX_FLOOR_FMR,
        description="The loosest threshold a deployment may match at, as a false-match rate per comparison "
        "(the stricter of this and search.threshold_floor_fmr applies), resolved through the model's card.",
    )
    max_false_alerts_per_face: float | None = Field(
        None,
        gt=0,
        le=1,
        description="The most false alerts a deployment may expect per face it sees: the watchlist's entries "
        "times the false-match rate at its threshold (model card). None: not limited.",
    )


class DeploymentRules(_Strict):
    """What a video deployment must record before it may start."""

    authorisation_required: bool = Field(
        False, description="A supervisor records an authorisation (reference) for each deployment before it starts."
    )
    dpia_required: bool = Field(
        False, description="A deployment names its data protection impact assessment before it starts."
    )
    signage_required: bool = Field(
        False, description="A deployment confirms that signs tell people at the site that cameras match faces."
    )


class ReviewRules(_Strict):
    two_person: bool = Field(False, description="A second, independent reviewer decides each candidate.")


class RetentionRules(_Strict):
    """Days each record type is kept; ``None`` keeps it until erased. ``audit_events`` is a
    minimum (the audit log is append-only and never purged)."""

    probe_images: int | None = Field(
        None, ge=0, le=MAX_RETENTION_DAYS, description="Days a probe photo is kept; 0 deletes it at once."
    )
    candidate_lists: int | None = Field(
        None, ge=0, le=MAX_RETENTION_DAYS, description="Days a search's candidate list is kept."
    )
    enrolment_images: int | None = Field(
        None, ge=0, le=MAX_RETENTION_DAYS, description="Days an enrolled photo is kept."
    )
    templates: int | None = Field(None, ge=0, le=MAX_RETENTION_DAYS, description="Days an enrolled template is kept.")
    watchlist_entries: int | None = Field(
        None, ge=0, le=MAX_RETENTION_DAYS, description="Days a watchlist entry lasts before it expires."
    )
    unconfirmed_alerts: int | None = Field(
        None,
        ge=0,
        le=MAX_RETENTION_DAYS,
        description="Days an alert nobody confirmed (dismissed, or never decided) and its face crop are kept.",
    )
    incident_records: int | None = Field(
        None,
        ge=0,
        le=MAX_RETENTION_DAYS,
        description="Days a confirmed alert (an incident record, with its face crop) is kept.",
    )
    audit_events: int | None = Field(
        None, ge=0, le=MAX_RETENTION_DAYS, description="Days the audit log must at least be kept (it is never purged)."
    )
    last_interaction_days: int | None = Field(
        None,
        ge=0,
        le=MAX_RETENTION_DAYS,
        description="Biometric data is destroyed this many days after the subject's last interaction.",
    )


class ReportingRules(_Strict):
    period: ReportingPeriod | None = Field(
        None, description="How often counts of searches go to the oversight body; None: no periodic report."
    )
    recipient: str = Field("", description="Who receives the periodic report (e.g. a ministry, a board).")


class PolicyProfile(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$", description="Short name (lower case, digits, '-').")
    title: str = Field(description="One-line title.")
    summary: str = Field(description="A paragraph: what the profile is for and what it rests on.")
    operational: bool = Field(True, description="False: evaluation only, no operational search.")
    requests: RequestRules
    probe: ProbeRules = ProbeRules()
    search: SearchRules = SearchRules()
    review: ReviewRules = ReviewRules()
    watchlists: WatchlistRules = WatchlistRules()
    deployments: DeploymentRules = DeploymentRules()
    retention: RetentionRules = RetentionRules()
    reporting: ReportingRules = ReportingRules()
    forbidden_uses: list[ForbiddenUse] = Field(default_factory=list, description="Uses this profile forbids outright.")

    @model_validator(mode="after")
    def _vocabulary(self) -> PolicyProfile:
        problems = rule_problems(self.model_dump())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def allows_any_offence(self) -> bool:
        return ANY in self.requests.offence_categories

    def allows_gallery_purpose(self, purpose: str) -> bool:
        allowed = self.search.gallery_purposes
        return ANY in allowed or purpose in allowed


def rule_problems(data: Mapping[str, Any]) -> list[str]:
    """The vocabulary and cross-field problems of a profile given as plain data (parsed TOML
    or a model dump). Tolerates missing or ill-typed parts: the field validators name those."""
    problems: list[str] = []
    requests = data.get("requests")
    r: Mapping[str, Any] = requests if isinstance(requests, Mapping) else {}
    probe = data.get("probe")
    p: Mapping[str, Any] = probe if isinstance(probe, Mapping) else {}

    def values(section: Mapping[str, Any], key: str, default: list[str]) -> list[str]:
        found = section.get(key, default)
        return [v for v in found if isinstance(v, str)] if isinstance(found, list) else []

    def known(items: list[str], vocabulary: tuple[str, ...] | list[str], where: str, wildcard: bool = False) -> None:
        for value in items:
            if not (wildcard and value == ANY) and value not in vocabulary:
                problems.append(f"{where}: {value!r} is not one of {', '.join(vocabulary) or 'none'}")

    legal_bases = values(r, "legal_bases", [])
    emergency_bases = values(r, "emergency_bases", [])
    known(legal_bases, LEGAL_BASES, "requests.legal_bases")
    known(values(r, "required_fields", []), REQUEST_FIELDS, "requests.required_fields")
    known(values(r, "document_required_for", []), LEGAL_BASES, "requests.document_required_for")
    known(values(r, "offence_categories", [ANY]), OFFENCE_CATEGORIES, "requests.offence_categories", wildcard=True)
    allowed = [b for b in legal_bases if b in LEGAL_BASES]
    known(emergency_bases, allowed, "requests.emergency_bases (must also be allowed legal bases)")
    known(values(p, "forbidden_sources", []), PROBE_SOURCES, "probe.forbidden_sources")
    watchlists = data.get("watchlists")
    w: Mapping[str, Any] = watchlists if isinstance(watchlists, Mapping) else {}
    known(values(w, "reasons", []), WATCHLIST_REASONS, "watchlists.reasons")
    if emergency_bases and r.get("emergency_deadline_hours") is None:
        problems.append("requests.emergency_deadline_hours is required when emergency_bases are given")
    if data.get("operational", True) is not False and isinstance(requests, Mapping) and not legal_bases:
        problems.append("requests.legal_bases: an operational profile must allow at least one legal basis")
    return problems


def shipped_profiles() -> list[str]:
    """Names of the profiles that ship with FaceDocket."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def text_sha256(text: str) -> str:
    """The SHA-256 of a profile's text (UTF-8): what requests and searches record."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


LEGACY_KEYS = {
    ("search", "threshold_floor"): "search.threshold_floor (a score that only meant something for one model) is "
    "now search.threshold_floor_fmr, a false-match rate such as 1e-3 (docs/policy.md)",
}


def parse_profile(text: str, origin: str = "profile") -> PolicyProfile:
    """Validate TOML ``text``; InvalidInput names every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{origin} is not valid TOML: {exc}") from None
    except RecursionError:
        raise InvalidInput(f"{origin} is nested too deeply to be a policy profile") from None
    legacy = [why for (table, key), why in LEGACY_KEYS.items() if isinstance(data.get(table), dict)
              and key in data[table]]  # fmt: skip
    try:
        profile = PolicyProfile.model_validate(data)
    except ValidationError as exc:
        # Field errors stop the rule check from running, so it runs here on the raw data:
        # a file with an unknown key and an unknown legal basis is told about both.
        found = legacy + [
            f"{'.'.join(str(p) for p in e['loc']) or 'profile'}: {e['msg']}"
            for e in exc.errors()
            if (e["loc"] or e["type"] != "value_error") and not _is_legacy(e["loc"])
        ]
        found += rule_problems(data)
        problems = "; ".join(dict.fromkeys(" ".join(p.split()) for p in found))
        raise InvalidInput(f"{origin} is not a valid policy profile: {problems}") from None
    return profile


def _is_legacy(loc: tuple[int | str, ...]) -> bool:
    return tuple(str(part) for part in loc) in LEGACY_KEYS


@dataclass(frozen=True)
class ProfileSource:
    """A validated profile with the text it came from: ``sha256`` is what every request and
    search made under it records; ``shipped`` says the text is a file FaceDocket ships."""

    profile: PolicyProfile
    text: str
    sha256: str
    shipped: bool


def read_profile(name_or_path: str | Path) -> ProfileSource:
    """A shipped profile by name, or a profile file by path, with its text."""
    path = Path(name_or_path)
    if not path.suffix and str(name_or_path) in shipped_profiles():
        path = PROFILES_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        raise NotFound(
            f"no policy profile {str(name_or_path)!r}; give a file or one of: {', '.join(shipped_profiles())}"
        )
    return profile_source(path.read_text(encoding="utf-8"), str(path))


def profile_source(text: str, origin: str = "the uploaded profile") -> ProfileSource:
    """Validate ``text`` and check its name: only the files FaceDocket ships may carry a
    shipped profile's name (an edited copy is a custom profile and needs a name of its own)."""
    profile = parse_profile(text, origin)
    digest = text_sha256(text)
    shipped = profile.name in shipped_profiles()
    if shipped and digest != text_sha256((PROFILES_DIR / f"{profile.name}.toml").read_text(encoding="utf-8")):
        raise InvalidInput(
            f"{origin} is named {profile.name!r}, the name of a profile FaceDocket ships, but its text differs "
            "from the shipped file; give your profile a name of its own (e.g. "
            f"{profile.name}-local) so nobody mistakes its rules for the shipped ones"
        )
    return ProfileSource(profile, text, digest, shipped)


def load_profile(name_or_path: str | Path) -> PolicyProfile:
    """A shipped profile by name, or a profile file by path."""
    return read_profile(name_or_path).profile


def profile_from_dict(data: dict[str, object]) -> PolicyProfile:
    """A profile stored as JSON (the copy an agency activated)."""
    return PolicyProfile.model_validate(data)
