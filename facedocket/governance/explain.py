"""A policy profile in plain sentences, and warnings for settings that are legal but doubtful.

:func:`explain` turns every rule of a profile into a sentence a supervisor or a legislator
can read without knowing the schema. :func:`profile_warnings` (and :func:`check_file`, which
loads and validates a file first) points out settings the schema accepts but a reviewer
should question, such as a score threshold floor below the model's calibrated threshold.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from facedocket.errors import ConfigurationError
from facedocket.governance.policy import ANY, PolicyProfile, load_profile
from facedocket.governance.retention import ENROLMENT_PHOTOS_NOTE
from facedocket.vision.models import TEMPLATE_MODEL_ID, model_card, model_cards, threshold_at_fmr

LEGAL_BASIS_WORDS = {
    "court-order": "a court order",
    "warrant": "a warrant (or a binding administrative authorisation)",
    "emergency": "an emergency",
    "deceased-identification": "the identification of a deceased person",
    "consent": "the person's own consent",
    "incident-report": "a recorded incident report",
    "investigation": "an open criminal investigation under agency policy",
}
"""Each legal basis as the words :func:`explain` uses."""

FIELD_WORDS = {
    "case_number": "the case number",
    "offence_category": "the offence category",
    "legal_basis": "the legal basis",
    "justification": "a justification",
    "document_type": "the document's type",
    "document_reference": "the document's reference",
    "document_issuer": "who issued the document",
    "document_date": "the document's date",
    "document_sha256": "the document's SHA-256 fingerprint",
    "probe_source": "where the probe photo comes from",
}

OFFENCE_WORDS = {
    "missing-person": "the search for a missing person",
    "deceased-identification": "identifying a deceased person",
    "drug-offence": "drug offences",
    "weapons-offence": "weapons offences",
    "other": "other offences",
}

SOURCE_WORDS = {
    "still-image": "still images",
    "video-frame": "frames of recorded video",
    "live-video": "live video",
    "sketch": "sketches",
    "composite": "composite pictures",
}

USE_WORDS = {
    "live-video": "searching live video",
    "recorded-video": "searching recorded video",
    "watchlist-alerts": "watchlist alerts",
    "sketches": "searching sketches",
    "1:1-verify": "1:1 verification",
}

RETENTION_WORDS = {
    "probe_images": "Probe photos",
    "candidate_lists": "Candidate lists",
    "enrolment_images": "Enrolment photos",
    "templates": "Templates",
    "watchlist_entries": "Watchlist entries",
    "unconfirmed_alerts": "Alerts nobody confirmed (with their face crops)",
    "incident_records": "Incident records (confirmed alerts, with their face crops)",
}

VIDEO_RECORDS = ("unconfirmed_alerts", "incident_records")
"""Retention records that exist only where watchlist alerts are allowed."""

REASON_WORDS = {
    "theft-with-violence": "a theft with violence or threats",
    "repeated-theft": "repeated thefts",
    "violence-or-threats": "violence or threats against staff or customers",
    "fraud": "fraud",
    "ban-order": "a court or banning order",
    "missing-person": "a missing person",
    "self-exclusion": "the person's own request to be kept out",
}
"""Each watchlist reason code in the words :func:`explain` uses."""

PERIOD_WORDS = {"weekly": "every week", "monthly": "every month", "quarterly": "every quarter", "annual": "every year"}

LONG_LIST = 20
"""More candidates than this, decided by one reviewer, draws a warning."""

LONG_DEADLINE_HOURS = 72.0
"""An emergency deadline longer than this draws a warning."""


def calibrated_threshold() -> tuple[float, float] | None:
    """(threshold, target FMR) of the default template model's card, or None without one."""
    try:
        calibration = model_card(TEMPLATE_MODEL_ID).calibration
    except ConfigurationError:
        return None
    return (calibration.threshold, calibration.target_fmr) if calibration else None


def _floor_sentence(fmr: float) -> str:
    """The threshold floor as a rate and, for each model with a card, as the score it resolves to."""
    scores = []
    for model_id in sorted(model_cards()):
        try:
            scores.append(f"{_number(threshold_at_fmr(model_id, fmr))} for {model_id}")
        except ConfigurationError:
            continue
    resolved = f" (a score of {_join(scores, 'and')})" if scores else ""
    return (
        f"No search may use a threshold looser than a false-match rate of {_rate(fmr)} per comparison{resolved}, "
        "as the model's calibration measured it."
    )


def _join(items: Iterable[str], conjunction: str) -> str:
    words = list(items)
    if len(words) <= 2:
        return f" {conjunction} ".join(words)
    return f"{', '.join(words[:-1])}, {conjunction} {words[-1]}"


def _number(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _days(n: int) -> str:
    text = "1 day" if n == 1 else f"{n} days"
    if n >= 365 and n % 365 == 0:
        years = n // 365
        text += " (1 year)" if years == 1 else f" ({years} years)"
    return text


def _hours(h: float) -> str:
    return "1 hour" if h == 1 else f"{_number(h)} hours"


def _rate(fmr: float) -> str:
    return f"1 in {round(1 / fmr):,}" if fmr > 0 else "0"


def _offence(category: str) -> str:
    return OFFENCE_WORDS.get(category, category.replace("-", " "))


def explain(profile: PolicyProfile) -> list[str]:
    """Every rule of ``profile`` as one plain sentence, in the order a request meets them."""
    lines: list[str] = []
    if not profile.operational:
        lines.append(
            "This profile is for evaluation only: no operational search, verification or watchlist alert runs under it."
        )
    for section in (_requests, _approval, _probe, _search, _review, _watchlists, _retention, _reporting):
        lines.extend(section(profile))
    return lines


def _requests(profile: PolicyProfile) -> list[str]:
    """Legal bases, the written request, its document and the offences a search may be made for."""
    r = profile.requests
    lines: list[str] = []
    say = lines.append
    if r.legal_bases:
        say(f"A search needs {_join((LEGAL_BASIS_WORDS.get(b, b) for b in r.legal_bases), 'or')}.")
    else:
        say("No request may cite a legal basis, so no search can be requested.")
    if r.required_fields:
        say(f"Every request is made in writing and gives {_join((FIELD_WORDS[f] for f in r.required_fields), 'and')}.")
    if r.document_required_for:
        bases = _join((LEGAL_BASIS_WORDS.get(b, b) for b in r.document_required_for), "or")
        say(f"A request citing {bases} must record that document: its type, reference, issuer and date.")
    if profile.allows_any_offence():
        say("A search may be made for any offence.")
    elif r.offence_categories:
        say(f"A search may be made only for {_join((_offence(c) for c in r.offence_categories), 'or')}.")
    else:
        say("No offence category is allowed, so no search may be made for one.")
    return lines


def _approval(profile: PolicyProfile) -> list[str]:
    """Approval before search, the emergency path, and requests from other agencies."""
    r = profile.requests
    lines: list[str] = []
    say = lines.append
    if r.approval_before_search:
        say("A supervisor approves each request before anyone searches.")
    else:
        say("A search may run without a supervisor's approval.")
    if r.emergency_bases and r.emergency_deadline_hours is not None:
        if r.emergency_bases == ["emergency"]:
            subject = "Emergency searches"
        else:
            subject = f"Searches citing {_join((LEGAL_BASIS_WORDS.get(b, b) for b in r.emergency_bases), 'or')}"
        say(
            f"{subject} may run before approval; approval must follow within {_hours(r.emergency_deadline_hours)} "
            "or the probe, the candidates and the templates they exposed are purged. "
            "A refused approval purges them at once."
        )
    elif r.approval_before_search and r.legal_bases:
        say("There is no emergency path: every search waits for approval.")
    if r.cross_agency:
        say("The face-search unit accepts written requests from other agencies.")
    else:
        say("Only the agency's own staff may request a search; requests from other agencies are refused.")
    return lines


def _probe(profile: PolicyProfile) -> list[str]:
    """The probe photo's quality floor and refused sources."""
    probe = profile.probe
    lines: list[str] = []
    if probe.min_quality > 0:
        quality = _number(probe.min_quality)
        lines.append(f"A probe photo must have a quality score of at least {quality} (0 is unusable, 1 ideal).")
    else:
        lines.append("Probe photos are searched whatever their quality.")
    if probe.forbidden_sources:
        sources = _join((SOURCE_WORDS.get(s, s) for s in probe.forbidden_sources), "or")
        lines.append(f"Probes from {sources} are refused.")
    return lines


def _search(profile: PolicyProfile) -> list[str]:
    """The threshold floor, the longest candidate list and the galleries a search may reach."""
    search = profile.search
    lines = [_floor_sentence(search.threshold_floor_fmr)]
    plural = "candidate" if search.max_candidates == 1 else "candidates"
    if profile.operational:
        lines.append(
            f"A search returns at most {search.max_candidates} {plural}, as investigative leads for trained human "
            "review, never as an identification."
        )
    else:
        lines.append(
            f"An evaluation ranks at most {search.max_candidates} {plural} per probe; nothing is decided about anyone."
        )
    if ANY in search.gallery_purposes:
        lines.append("Any gallery the agency holds or is shared with may be searched.")
    else:
        lines.append(
            f"Only galleries declared for these purposes may be searched: {', '.join(search.gallery_purposes)}."
        )
    return lines


def _review(profile: PolicyProfile) -> list[str]:
    """Who decides the candidates."""
    if profile.review.two_person:
        return ["Each candidate is decided by two reviewers independently."]
    if not profile.operational:
        return ["No reviewer decides candidates: evaluation results are measured, not acted on."]
    return ["Each candidate is decided by one trained reviewer."]


def _watchlists(profile: PolicyProfile) -> list[str]:
    """Who may be put on a watchlist, and what a video deployment needs and may do."""
    if not profile.operational or "watchlist-alerts" in profile.forbidden_uses:
        return []
    w, d = profile.watchlists, profile.deployments
    lines: list[str] = []
    say = lines.append
    if w.reasons:
        say(f"A person may be put on a watchlist only for {_join((REASON_WORDS.get(r, r) for r in w.reasons), 'or')}, "
            "with the incident it rests on, who authorised it and an expiry.")  # fmt: skip
    else:
        say("No reason is allowed for a watchlist entry, so nobody may be put on a watchlist.")
    if w.entry_approval:
        say("A second person approves each watchlist entry before it is matched.")
    rate = min(w.threshold_floor_fmr, profile.search.threshold_floor_fmr)
    say(_floor_sentence(rate).replace("No search may use", "No video deployment may match at"))
    if w.max_false_alerts_per_face is not None:
        share = _rate(w.max_false_alerts_per_face)
        say(f"A deployment's watchlist may be expected to alert falsely on at most {share} of the faces it sees "
            "(its entries times the false-match rate at its threshold).")  # fmt: skip
    needs = [words for flag, words in ((d.dpia_required, "a data protection impact assessment"),
                                       (d.signage_required, "signs at the site"),
                                       (d.authorisation_required, "a supervisor's authorisation")) if flag]  # fmt: skip
    if needs:
        say(f"A video deployment needs {_join(needs, 'and')} before it starts.")
    say("A deployment matches only within its time windows; faces that do not match are never stored, only how "
        "many were seen each hour, and every alert waits for a person to confirm or dismiss it.")  # fmt: skip
    return lines


def _retention(profile: PolicyProfile) -> list[str]:
    """How long each kind of record is kept, the last-interaction limit, and the audit log."""
    kept = profile.retention
    lines: list[str] = []
    say = lines.append
    alerts = profile.operational and "watchlist-alerts" not in profile.forbidden_uses
    for record, noun in RETENTION_WORDS.items():
        days: int | None = getattr(kept, record)
        if record in VIDEO_RECORDS and not alerts:
            continue
        if record == "enrolment_images":
            say(ENROLMENT_PHOTOS_NOTE)
        elif days is None:
            say(f"{noun} are kept until someone erases them.")
        elif days == 0 and record == "watchlist_entries":
            say("No watchlist entries are kept.")
        elif days == 0 and record == "probe_images":
            say("Probe photos are not kept: they are deleted as soon as the search is done.")
        elif days == 0:
            say(f"{noun} are not kept: they are deleted at once.")
        elif record == "watchlist_entries":
            say(f"{noun} expire after {_days(days)}.")
        else:
            say(f"{noun} are deleted after {_days(days)}.")
    if kept.last_interaction_days is not None:
        say(
            f"All biometric data about a person is destroyed at the latest {_days(kept.last_interaction_days)} "
            "after their last interaction."
        )
    audit = (
        "Every request, search, review and decision is recorded in the hash-chained audit log, which is never purged"
    )
    if kept.audit_events is not None:
        audit += f" and is kept at least {_days(kept.audit_events)}"
    say(audit + ".")
    return lines


def _reporting(profile: PolicyProfile) -> list[str]:
    """The periodic report and the uses forbidden outright."""
    report = profile.reporting
    lines: list[str] = []
    if report.period:
        to = report.recipient or "the oversight body"
        lines.append(f"Counts of searches are reported {PERIOD_WORDS[report.period]} to {to}.")
    else:
        lines.append("This profile requires no periodic report.")
    if profile.forbidden_uses:
        lines.append(f"Forbidden outright: {_join((USE_WORDS.get(u, u) for u in profile.forbidden_uses), 'and')}.")
    return lines


def profile_warnings(profile: PolicyProfile) -> list[str]:
    """Settings the schema accepts but a reviewer should question; ``[]`` when none."""
    warnings: list[str] = []
    warn = warnings.append
    r, search, kept = profile.requests, profile.search, profile.retention
    if not profile.operational:
        if r.legal_bases:
            warn("requests.legal_bases has no effect: the profile is not operational, so no search runs")
        return warnings

    if not r.approval_before_search:
        warn(
            "requests.approval_before_search is false: searches run without approval and no deadline brings one "
            "afterwards (an emergency path is requests.emergency_bases with requests.emergency_deadline_hours)"
        )
    if r.emergency_deadline_hours is not None:
        if not r.emergency_bases:
            warn("requests.emergency_deadline_hours has no effect without requests.emergency_bases")
        elif r.emergency_deadline_hours > LONG_DEADLINE_HOURS:
            warn(
                f"requests.emergency_deadline_hours is {_number(r.emergency_deadline_hours)}: emergency results stay "
                f"unapproved for more than {_number(LONG_DEADLINE_HOURS)} hours (the EU AI Act allows 48)"
            )
    for basis in ("court-order", "warrant"):
        if basis in r.legal_bases and basis not in r.document_required_for:
            warn(f"requests.document_required_for: a request citing a {basis} need not record the document")
    for basis in r.document_required_for:
        if basis not in r.legal_bases:
            warn(f"requests.document_required_for: {basis!r} is not an allowed legal basis, so this has no effect")
    if not profile.review.two_person and search.max_candidates > LONG_LIST:
        warn(
            f"review.two_person is false and search.max_candidates is {search.max_candidates}: one reviewer picks "
            "from a long list, where a look-alike is likely"
        )
    if profile.probe.min_quality == 0:
        warn("probe.min_quality is 0: probes of any quality are searched (docs/quality.md: poor probes fail far more)")
    for record in ("probe_images", "candidate_lists"):
        if getattr(kept, record) is None:
            warn(f"retention.{record} is not set: {RETENTION_WORDS[record].lower()} are kept until someone erases them")
    if "watchlist-alerts" not in profile.forbidden_uses:
        if kept.watchlist_entries is None:
            warn("retention.watchlist_entries is not set: watchlist entries never expire")
        if profile.watchlists.reasons and profile.watchlists.max_false_alerts_per_face is None:
            warn(
                "watchlists.max_false_alerts_per_face is not set: a long watchlist may alert falsely on many passers-by"
            )
        for record in VIDEO_RECORDS:
            if profile.watchlists.reasons and getattr(kept, record) is None:
                warn(f"retention.{record} is not set: {RETENTION_WORDS[record].lower()} are kept until erased")
    elif profile.watchlists.reasons:
        warn("watchlists.reasons has no effect: the profile forbids watchlist alerts")
    return warnings


def check_file(path: str | Path) -> tuple[PolicyProfile, list[str]]:
    """Load and validate a profile file (or a shipped profile by name): the profile and its
    warnings. :class:`~facedocket.errors.InvalidInput` names every problem of an invalid file."""
    profile = load_profile(path)
    return profile, profile_warnings(profile)
