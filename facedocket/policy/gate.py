"""The policy gate: one pure function that says whether a search may run.

Every search and verification passes through :func:`check_search`, server-side, before any
template is compared. It returns every failed rule (an empty list allows the search), so a
refusal names them all; the service records each refusal in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from facedocket.policy.schema import PolicyProfile

Failure = tuple[str, str]
"""(rule, why): ``rule`` is the profile key that refused, e.g. ``search.max_candidates``."""

SEARCHABLE_STATES = ("submitted", "approved", "searched")


@dataclass(frozen=True)
class SearchContext:
    """What the gate looks at: the request, the probe, and what the search asks for."""

    kind: str  # "search" (1:N) or "verify" (1:1)
    status: str
    approval: str
    legal_basis: str
    offence_category: str
    fields: dict[str, str]
    probe_source: str
    probe_quality: float | None
    k: int
    threshold: float
    gallery_purposes: dict[str, str] = field(default_factory=dict)  # gallery name -> purpose
    cross_agency: bool = False
    purged: bool = False


def check_search(profile: PolicyProfile | None, ctx: SearchContext) -> list[Failure]:
    """Every rule of ``profile`` that ``ctx`` breaks; ``[]`` means the search may run."""
    if profile is None:
        return [("policy", "no policy profile is active for this agency; an admin activates one first")]
    failures: list[Failure] = []
    fail = failures.append
    rules = profile.requests
    if not profile.operational:
        fail(("operational", f"profile {profile.name} is for evaluation only: no operational search"))
    if ctx.purged:
        fail(("request.purged", "this request's probe and results were purged; file a new request"))
    if ctx.status not in SEARCHABLE_STATES:
        fail(("request.state", f"the request is {ctx.status}; a search needs a submitted or approved request"))
    if ctx.approval in ("denied", "expired"):
        fail(("request.approval", f"the request was {ctx.approval}"))
    if ctx.legal_basis not in rules.legal_bases:
        allowed = ", ".join(rules.legal_bases) or "none"
        fail(("requests.legal_bases", f"legal basis {ctx.legal_basis!r} is not allowed (allowed: {allowed})"))
    emergency = ctx.legal_basis in rules.emergency_bases
    if ctx.approval == "pending" and rules.approval_before_search and not emergency:
        fail(("requests.approval_before_search", "a supervisor must approve the request before the search"))
    missing = [name for name in rules.required_fields if not (ctx.fields.get(name) or "").strip()]
    if missing:
        fail(("requests.required_fields", f"missing: {', '.join(missing)}"))
    if ctx.legal_basis in rules.document_required_for:
        absent = [n for n in ("document_type", "document_reference", "document_issuer", "document_date")
                  if not (ctx.fields.get(n) or "").strip()]  # fmt: skip
        if absent:
            fail(("requests.document_required_for", f"a {ctx.legal_basis} needs its document: {', '.join(absent)}"))
    if not profile.allows_any_offence() and ctx.offence_category not in rules.offence_categories:
        why = f"offence category {ctx.offence_category!r} is not one this policy allows"
        fail(("requests.offence_categories", why))
    if ctx.cross_agency and not rules.cross_agency:
        fail(("requests.cross_agency", "this policy does not accept requests from other agencies"))
    if ctx.probe_source in profile.probe.forbidden_sources:
        fail(("probe.forbidden_sources", f"probes from a {ctx.probe_source} may not be searched"))
    use = {"video-frame": "recorded-video", "live-video": "live-video", "sketch": "sketches"}.get(ctx.probe_source)
    if use and use in profile.forbidden_uses:
        fail(("forbidden_uses", f"{use} is forbidden by this policy"))
    if ctx.kind == "verify" and "1:1-verify" in profile.forbidden_uses:
        fail(("forbidden_uses", "1:1 verification is forbidden by this policy"))
    if ctx.probe_quality is not None and ctx.probe_quality < profile.probe.min_quality:
        fail(("probe.min_quality", f"probe quality {ctx.probe_quality:.2f} is below {profile.probe.min_quality:.2f}"))
    if ctx.threshold < profile.search.threshold_floor:
        why = f"threshold {ctx.threshold:.6f} is below the floor {profile.search.threshold_floor:.6f}"
        fail(("search.threshold_floor", why))
    if ctx.k > profile.search.max_candidates:
        fail(("search.max_candidates", f"{ctx.k} candidates asked for; at most {profile.search.max_candidates}"))
    for name, purpose in ctx.gallery_purposes.items():
        if not profile.allows_gallery_purpose(purpose):
            fail(("search.gallery_purposes", f"gallery {name!r} (purpose {purpose!r}) may not be searched"))
    return failures
