"""The policy's rules, as one list: what a request must be to be submitted, and a search to run.

Each :class:`Rule` is named after the profile key that sets it (``requests.legal_bases``,
``search.threshold_floor_fmr``), says in plain words what it asks, names the facts it needs,
and returns why a request fails it. :func:`check_submission` runs the rules whose facts are
known when a request is submitted; :func:`check_search` runs all of them. So a request that
the policy would refuse at search for a reason known at submission (its legal basis, its
document, its offence, its probe source, the galleries it names) is refused at submission,
with the same rule name. :func:`checklist` gives every rule's verdict for a supervisor.

Example::

    failures = check_search(profile, facts)     # [] lets the search run
    for rule, why in failures: ...
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields

from facedocket.errors import ConfigurationError
from facedocket.governance.policy import PolicyProfile
from facedocket.vision.models import threshold_at_fmr
from facedocket.vocab import DOCUMENT_FIELDS

Failure = tuple[str, str]
"""(rule, why): ``rule`` is the profile key that refused, e.g. ``search.max_candidates``."""

SEARCHABLE_STATES = ("submitted", "approved", "searched")

_USE_OF_SOURCE = {"video-frame": "recorded-video", "live-video": "live-video", "sketch": "sketches"}


@dataclass(frozen=True)
class Facts:
    """What the rules look at. A fact a stage does not know yet is None, and the rules that
    need it wait (``pending`` in a checklist): at submission there is no probe quality, no
    threshold and no state to search from."""

    legal_basis: str
    offence_category: str
    fields: Mapping[str, str]
    probe_source: str
    cross_agency: bool = False
    gallery_purposes: Mapping[str, str] = field(default_factory=dict)  # gallery name -> purpose
    kind: str | None = None  # "search" (1:N) or "verify" (1:1); None before a search
    status: str | None = None
    approval: str | None = None
    purged: bool | None = None
    probe_quality: float | None = None
    k: int | None = None
    threshold: float | None = None
    model_id: str | None = None


Check = Callable[[PolicyProfile, Facts], str | None]


@dataclass(frozen=True)
class Rule:
    """One rule: its name (the profile key), what it asks in plain words, the facts it needs,
    and its check (the reason it fails, or None)."""

    name: str
    words: str
    needs: tuple[str, ...]
    check: Check

    def applies(self, facts: Facts) -> bool:
        return all(getattr(facts, need) is not None for need in self.needs)


@dataclass(frozen=True)
class Verdict:
    """A rule's verdict for a checklist: ``passed``, ``failed`` or ``pending``."""

    rule: str
    words: str
    state: str
    why: str = ""


def _operational(p: PolicyProfile, f: Facts) -> str | None:
    return None if p.operational else f"profile {p.name} is for evaluation only: no operational search"


def _purged(p: PolicyProfile, f: Facts) -> str | None:
    return "this request's probe and results were purged; file a new request" if f.purged else None


def _state(p: PolicyProfile, f: Facts) -> str | None:
    if f.status in SEARCHABLE_STATES:
        return None
    return f"the request is {f.status}; a search needs a submitted or approved request"


def _approval(p: PolicyProfile, f: Facts) -> str | None:
    return f"the request was {f.approval}" if f.approval in ("denied", "expired") else None


def _legal_bases(p: PolicyProfile, f: Facts) -> str | None:
    if f.legal_basis in p.requests.legal_bases:
        return None
    allowed = ", ".join(p.requests.legal_bases) or "none"
    return f"legal basis {f.legal_basis!r} is not allowed (allowed: {allowed})"


def _approval_first(p: PolicyProfile, f: Facts) -> str | None:
    emergency = f.legal_basis in p.requests.emergency_bases
    if f.approval == "pending" and p.requests.approval_before_search and not emergency:
        return "a supervisor must approve the request before the search"
    return None


def _missing(f: Facts, names: tuple[str, ...] | list[str]) -> list[str]:
    return [name for name in names if not (f.fields.get(name) or "").strip()]


def _required_fields(p: PolicyProfile, f: Facts) -> str | None:
    missing = _missing(f, p.requests.required_fields)
    return f"missing: {', '.join(missing)}" if missing else None


def _document(p: PolicyProfile, f: Facts) -> str | None:
    if f.legal_basis not in p.requests.document_required_for:
        return None
    absent = _missing(f, DOCUMENT_FIELDS)
    return f"a {f.legal_basis} needs its document: {', '.join(absent)}" if absent else None


def _offence(p: PolicyProfile, f: Facts) -> str | None:
    if p.allows_any_offence() or f.offence_category in p.requests.offence_categories:
        return None
    return f"offence category {f.offence_category!r} is not one this policy allows"


def _cross_agency(p: PolicyProfile, f: Facts) -> str | None:
    if f.cross_agency and not p.requests.cross_agency:
        return "this policy does not accept requests from other agencies"
    return None


def _probe_source(p: PolicyProfile, f: Facts) -> str | None:
    if f.probe_source in p.probe.forbidden_sources:
        return f"probes from a {f.probe_source} may not be searched"
    return None


def _forbidden_source_use(p: PolicyProfile, f: Facts) -> str | None:
    use = _USE_OF_SOURCE.get(f.probe_source)
    return f"{use} is forbidden by this policy" if use and use in p.forbidden_uses else None


def _forbidden_verify(p: PolicyProfile, f: Facts) -> str | None:
    if f.kind == "verify" and "1:1-verify" in p.forbidden_uses:
        return "1:1 verification is forbidden by this policy"
    return None


def _quality(p: PolicyProfile, f: Facts) -> str | None:
    assert f.probe_quality is not None
    if f.probe_quality < p.probe.min_quality:
        return f"probe quality {f.probe_quality:.2f} is below {p.probe.min_quality:.2f}"
    return None


def floor_fmr(profile: PolicyProfile, use: str = "search") -> float:
    """The profile's floor as a false-match rate: ``search.threshold_floor_fmr`` for a search;
    for watchlist matching (``use="watchlist"``) the stricter of it and
    ``watchlists.threshold_floor_fmr``."""
    rate = profile.search.threshold_floor_fmr
    return min(rate, profile.watchlists.threshold_floor_fmr) if use == "watchlist" else rate


def floor_score(profile: PolicyProfile, model_id: str, use: str = "search") -> float:
    """The profile's threshold floor as a score for ``model_id``: the threshold at which the
    model card's calibration measured the profile's false-match rate (:func:`floor_fmr`)."""
    return threshold_at_fmr(model_id, floor_fmr(profile, use))


def _threshold(p: PolicyProfile, f: Facts) -> str | None:
    assert f.threshold is not None and f.model_id is not None
    try:
        floor = floor_score(p, f.model_id)
    except ConfigurationError as exc:
        return str(exc)
    rate = p.search.threshold_floor_fmr
    if not f.threshold >= floor:  # written so that NaN fails
        return (
            f"threshold {f.threshold:.6f} is below the floor {floor:.6f} (false-match rate {rate:g} for {f.model_id})"
        )
    return None


def _max_candidates(p: PolicyProfile, f: Facts) -> str | None:
    assert f.k is not None
    if f.k > p.search.max_candidates:
        return f"{f.k} candidates asked for; at most {p.search.max_candidates}"
    return None


def _gallery_purposes(p: PolicyProfile, f: Facts) -> str | None:
    refused = [f"gallery {name!r} (purpose {purpose!r})" for name, purpose in f.gallery_purposes.items()
               if not p.allows_gallery_purpose(purpose)]  # fmt: skip
    return f"{', '.join(refused)} may not be searched" if refused else None


RULES: tuple[Rule, ...] = (
    Rule("operational", "The profile allows operational searches.", (), _operational),
    Rule("request.purged", "The request still holds its probe (it was not purged).", ("purged",), _purged),
    Rule("request.state", "The request is submitted or approved.", ("status",), _state),
    Rule("request.approval", "The request was not denied, and did not expire.", ("approval",), _approval),
    Rule("requests.legal_bases", "The legal basis is one the policy allows.", (), _legal_bases),
    Rule(
        "requests.approval_before_search",
        "A supervisor approved the request first (unless an emergency basis allows searching before approval).",
        ("approval",),
        _approval_first,
    ),
    Rule(
        "requests.required_fields", "The written request gives every field the policy requires.", (), _required_fields
    ),
    Rule(
        "requests.document_required_for",
        "The legal basis's document is recorded: type, reference, issuer and date.",
        (),
        _document,
    ),
    Rule("requests.offence_categories", "The offence is one the policy allows searches for.", (), _offence),
    Rule("requests.cross_agency", "A request from another agency is one the policy accepts.", (), _cross_agency),
    Rule("probe.forbidden_sources", "The probe comes from a source the policy allows.", (), _probe_source),
    Rule("forbidden_uses", "The search is not a use the policy forbids.", (), _forbidden_source_use),
    Rule("forbidden_uses", "A 1:1 verification is allowed.", ("kind",), _forbidden_verify),
    Rule("probe.min_quality", "The probe photo's quality reaches the policy's minimum.", ("probe_quality",), _quality),
    Rule(
        "search.threshold_floor_fmr",
        "The threshold is no looser than the policy's false-match rate allows.",
        ("threshold", "model_id"),
        _threshold,
    ),
    Rule(
        "search.max_candidates",
        "The search asks for no more candidates than the policy allows.",
        ("k",),
        _max_candidates,
    ),
    Rule(
        "search.gallery_purposes",
        "Every gallery searched is declared for a purpose the policy allows.",
        (),
        _gallery_purposes,
    ),
)
"""Every rule, in the order a request meets them."""

NO_POLICY: Failure = ("policy", "no policy profile is active for this agency; an admin activates one first")


def _run(profile: PolicyProfile | None, facts: Facts) -> list[Failure]:
    if profile is None:
        return [NO_POLICY]
    failures: list[Failure] = []
    for rule in RULES:
        if rule.applies(facts):
            why = rule.check(profile, facts)
            if why:
                failures.append((rule.name, why))
    return failures


def check_submission(profile: PolicyProfile | None, facts: Facts) -> list[Failure]:
    """Every rule ``facts`` already break at submission; ``[]`` lets the request be submitted.
    The search facts (state, quality, threshold, k) are not known yet and must be None."""
    unknown = ("kind", "status", "approval", "purged", "probe_quality", "k", "threshold", "model_id")
    assert all(getattr(facts, name) is None for name in unknown), "submission facts hold search facts"
    return _run(profile, facts)


def check_search(profile: PolicyProfile | None, facts: Facts) -> list[Failure]:
    """Every rule ``facts`` break; ``[]`` lets the search run. Every search fact is needed."""
    missing = [f.name for f in fields(Facts) if getattr(facts, f.name) is None]
    assert not missing, f"a search is checked with every fact; missing {missing}"
    return _run(profile, facts)


def checklist(profile: PolicyProfile | None, facts: Facts) -> list[Verdict]:
    """Every rule's verdict on ``facts`` in plain words (the supervisor's checklist): passed,
    failed with why, or pending when the rule needs a fact only a search has."""
    if profile is None:
        return [Verdict(NO_POLICY[0], "A policy profile is active.", "failed", NO_POLICY[1])]
    verdicts = []
    for rule in RULES:
        if not rule.applies(facts):
            verdicts.append(Verdict(rule.name, rule.words, "pending"))
            continue
        why = rule.check(profile, facts)
        verdicts.append(Verdict(rule.name, rule.words, "failed" if why else "passed", why or ""))
    return verdicts
