"""The policy's rules for watchlists and video deployments, and what a watchlist costs in
false alerts. Pure: no SQL, no video.

Two rule lists, named like the request rules (:mod:`facedocket.governance.rules`) after the
profile key that sets them:

* :data:`ENTRY_RULES` decide whether an entry may be added to a watchlist (the profile keeps
  watchlists, the reason code is one it allows, the expiry is within its period);
* :data:`DEPLOYMENT_RULES` decide whether a deployment may start, and go on at each time
  window: forbidden uses (``watchlist-alerts``; ``live-video`` for a camera or stream,
  ``recorded-video`` for a file), the galleries matched are watchlists the profile allows,
  the threshold is no looser than the floor, the expected false alerts per face stay within
  the profile's limit, the DPIA, signage and authorisation the profile asks for are
  recorded, and a time window is open.

Example::

    failures = check_deployment(profile, facts)   # [] lets it start
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from facedocket.errors import ConfigurationError
from facedocket.governance.policy import PolicyProfile
from facedocket.governance.rules import NO_POLICY, Failure, Verdict, floor_fmr, floor_score
from facedocket.vision.models import fmr_at_score, threshold_at_fmr
from facedocket.vocab import WATCHLIST_PURPOSE

F = TypeVar("F")


@dataclass(frozen=True)
class VideoRule(Generic[F]):
    """One rule: its name (the profile key), what it asks in plain words, and its check."""

    name: str
    words: str
    check: Callable[[PolicyProfile, F], str | None]


# --- entries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryFacts:
    """An entry to be added: its reason code, the purpose of its gallery, and the days from
    now until it expires."""

    reason: str
    gallery_purpose: str
    days: float


def _operational(p: PolicyProfile, f: object) -> str | None:
    return None if p.operational else f"profile {p.name} is for evaluation only: no watchlist is matched"


def _alerts_allowed(p: PolicyProfile, f: object) -> str | None:
    if "watchlist-alerts" in p.forbidden_uses:
        return "watchlist alerts are forbidden by this policy: no watchlist is kept or matched"
    return None


def _entry_period(p: PolicyProfile, f: EntryFacts) -> str | None:
    days = p.retention.watchlist_entries
    if days == 0:
        return "this policy keeps no watchlist entries"
    if days is not None and f.days > days + 1e-9:
        return f"the entry would last {f.days:.0f} days; this policy lets an entry last at most {days} days"
    return None


def _reason(p: PolicyProfile, f: EntryFacts) -> str | None:
    if f.reason in p.watchlists.reasons:
        return None
    allowed = ", ".join(p.watchlists.reasons) or "none"
    return f"reason {f.reason!r} is not one this policy allows for a watchlist entry (allowed: {allowed})"


def _purpose(purpose: str, p: PolicyProfile) -> str | None:
    if purpose != WATCHLIST_PURPOSE:
        return f"purpose {purpose!r} is not {WATCHLIST_PURPOSE!r}"
    if not p.allows_gallery_purpose(purpose):
        return "this policy does not allow watchlist galleries"
    return None


def _entry_gallery(p: PolicyProfile, f: EntryFacts) -> str | None:
    why = _purpose(f.gallery_purpose, p)
    return f"the gallery is no watchlist: {why}" if why else None


ENTRY_RULES: tuple[VideoRule[EntryFacts], ...] = (
    VideoRule("operational", "The profile allows operational matching.", _operational),
    VideoRule("forbidden_uses", "Watchlist alerts are not a use the policy forbids.", _alerts_allowed),
    VideoRule("search.gallery_purposes", "The gallery is a watchlist the policy allows.", _entry_gallery),
    VideoRule("watchlists.reasons", "The entry's reason code is one the policy allows.", _reason),
    VideoRule("retention.watchlist_entries", "The entry expires within the period the policy allows.", _entry_period),
)
"""Every rule an entry meets before it is added."""


# --- deployments ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DeploymentFacts:
    """What the gate looks at when a deployment starts, and at each time window."""

    source_kind: str
    watchlists: Mapping[str, str]  # watchlist name -> declared purpose
    entries: int  # active entries across the watchlists
    threshold: float
    model_id: str
    dpia_reference: str
    signage: bool
    authorised: bool
    window_open: bool

    @property
    def live(self) -> bool:
        return self.source_kind != "file"


def _forbidden_source(p: PolicyProfile, f: DeploymentFacts) -> str | None:
    use = "live-video" if f.live else "recorded-video"
    if use in p.forbidden_uses:
        return f"{'live' if f.live else 'recorded'} video is forbidden by this policy"
    source = "live-video" if f.live else "video-frame"
    if source in p.probe.forbidden_sources:
        return f"probes from {'live video' if f.live else 'recorded video'} may not be matched under this policy"
    return None


def _galleries(p: PolicyProfile, f: DeploymentFacts) -> str | None:
    refused = [f"{name!r} ({why})" for name, purpose in f.watchlists.items() if (why := _purpose(purpose, p))]
    return f"these galleries may not be matched: {', '.join(refused)}" if refused else None


def _floor(p: PolicyProfile, f: DeploymentFacts) -> str | None:
    try:
        floor = floor_score(p, f.model_id, use="watchlist")
    except ConfigurationError as exc:
        return str(exc)
    if not f.threshold >= floor:  # written so that NaN fails
        rate = floor_fmr(p, "watchlist")
        return f"threshold {f.threshold:.6f} is below the watchlist floor {floor:.6f} (false-match rate {rate:g})"
    return None


def _false_alerts(p: PolicyProfile, f: DeploymentFacts) -> str | None:
    limit = p.watchlists.max_false_alerts_per_face
    if limit is None or f.entries == 0:
        return None
    expected = false_alert_probability(f.model_id, f.threshold, f.entries)
    if expected is None:
        return f"model {f.model_id} has no calibrated false-match rates; the expected false alerts cannot be checked"
    if expected <= limit:
        return None
    needed = needed_threshold(f.model_id, f.entries, limit)
    advice = f"raise the threshold to {needed:.6f}" if needed is not None else "the model card cannot vouch for it"
    count, verb = ("1 entry", "is") if f.entries == 1 else (f"{f.entries} entries", "are")
    return (
        f"{count} at threshold {f.threshold:.6f} {verb} expected to alert falsely on {expected:.3g} of the faces "
        f"seen; this policy allows {limit:g}: {advice}, or shorten the list"
    )


def _dpia(p: PolicyProfile, f: DeploymentFacts) -> str | None:
    needed = p.deployments.dpia_required and not f.dpia_reference.strip()
    return "the deployment names no data protection impact assessment" if needed else None


def _signage(p: PolicyProfile, f: DeploymentFacts) -> str | None:
    return "signs at the site are not confirmed" if p.deployments.signage_required and not f.signage else None


def _authorised(p: PolicyProfile, f: DeploymentFacts) -> str | None:
    if p.deployments.authorisation_required and not f.authorised:
        return "no supervisor has authorised this deployment"
    return None


def _window(p: PolicyProfile, f: DeploymentFacts) -> str | None:
    return None if f.window_open else "none of the deployment's time windows is open now"


DEPLOYMENT_RULES: tuple[VideoRule[DeploymentFacts], ...] = (
    VideoRule("operational", "The profile allows operational matching.", _operational),
    VideoRule("forbidden_uses", "Watchlist alerts are not a use the policy forbids.", _alerts_allowed),
    VideoRule("forbidden_uses", "Video from this kind of source (live or recorded) is allowed.", _forbidden_source),
    VideoRule("search.gallery_purposes", "Every gallery matched is a watchlist the policy allows.", _galleries),
    VideoRule(
        "watchlists.threshold_floor_fmr",
        "The threshold is no looser than the policy's watchlist false-match rate allows.",
        _floor,
    ),
    VideoRule(
        "watchlists.max_false_alerts_per_face",
        "The entries times the false-match rate at the threshold stay within the policy's false alerts per face.",
        _false_alerts,
    ),
    VideoRule("deployments.dpia_required", "The deployment names its DPIA (where the policy asks).", _dpia),
    VideoRule("deployments.signage_required", "Signs at the site are confirmed (where the policy asks).", _signage),
    VideoRule(
        "deployments.authorisation_required",
        "A supervisor authorised the deployment (where the policy asks).",
        _authorised,
    ),
    VideoRule("deployment.windows", "One of the deployment's time windows is open.", _window),
)
"""Every rule a deployment meets when it starts and at each time window."""


def _run(profile: PolicyProfile | None, rules: tuple[VideoRule[F], ...], facts: F) -> list[Failure]:
    if profile is None:
        return [NO_POLICY]
    return [(rule.name, why) for rule in rules if (why := rule.check(profile, facts))]


def check_entry(profile: PolicyProfile | None, facts: EntryFacts) -> list[Failure]:
    """Every rule ``facts`` break; ``[]`` lets the entry be added."""
    return _run(profile, ENTRY_RULES, facts)


def check_deployment(profile: PolicyProfile | None, facts: DeploymentFacts) -> list[Failure]:
    """Every rule ``facts`` break; ``[]`` lets the deployment start (or go on)."""
    return _run(profile, DEPLOYMENT_RULES, facts)


def deployment_checklist(profile: PolicyProfile | None, facts: DeploymentFacts) -> list[Verdict]:
    """Every deployment rule's verdict in plain words (``passed`` or ``failed`` with why)."""
    if profile is None:
        return [Verdict(NO_POLICY[0], "A policy profile is active.", "failed", NO_POLICY[1])]
    verdicts = []
    for rule in DEPLOYMENT_RULES:
        why = rule.check(profile, facts)
        verdicts.append(Verdict(rule.name, rule.words, "failed" if why else "passed", why or ""))
    return verdicts


# --- what a watchlist costs in false alerts ------------------------------------------------


def false_alert_probability(model_id: str, threshold: float, entries: int) -> float | None:
    """The chance that a face not on the list matches at least one of ``entries`` entries at
    ``threshold``: 1 - (1 - FMR)^entries, FMR from the model card (None without a table).

    >>> round(false_alert_probability("dlib-resnet-v1", 0.930103, 1000), 3)
    0.632
    """
    fmr = fmr_at_score(model_id, threshold)
    if fmr is None:
        return None
    return float(-math.expm1(entries * math.log1p(-min(fmr, 1 - 1e-12)))) if entries > 0 else 0.0


def expected_false_alerts_per_hour(
    model_id: str, threshold: float, entries: int, faces_per_hour: float
) -> float | None:
    """False alerts an hour expected at ``faces_per_hour`` faces seen (none of them listed)."""
    p = false_alert_probability(model_id, threshold, entries)
    return None if p is None else round(p * max(0.0, faces_per_hour), 3)


def needed_threshold(model_id: str, entries: int, per_face: float) -> float | None:
    """The threshold at which ``entries`` entries alert falsely on at most ``per_face`` of the
    faces seen, or None when the model card's rates do not reach that far."""
    if entries <= 0:
        return None
    rate = -math.expm1(math.log1p(-per_face) / entries)
    try:
        return threshold_at_fmr(model_id, rate)
    except ConfigurationError:
        return None


__all__ = [
    "DEPLOYMENT_RULES",
    "ENTRY_RULES",
    "DeploymentFacts",
    "EntryFacts",
    "VideoRule",
    "check_deployment",
    "check_entry",
    "deployment_checklist",
    "expected_false_alerts_per_hour",
    "false_alert_probability",
    "needed_threshold",
]
