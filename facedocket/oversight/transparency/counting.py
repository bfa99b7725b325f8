"""The counting behind a transparency report: pure functions over the rows the service reads
(:func:`facedocket.store.queries.transparency.report_rows`); no SQL, no session.

Searches are counted for the agency that ran them; a search run by another agency under a
request the agency filed is counted for the filer too, as a search requested of another
agency. Requests, refusals, erasures, purges and legal holds are counted from the audit log,
the record every agency's trail shares. The report also carries the verification of the whole
audit chain and the first and last event of the period, so a reader holding an export of the
chain can anchor the report to it (``docs/transparency.md``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from facedocket.errors import NotFound
from facedocket.governance import audit
from facedocket.governance.review import candidate_state
from facedocket.oversight.transparency.fields import FIELD_DEFINITIONS, check_request, field_set_of
from facedocket.oversight.transparency.video import VIDEO_ACTIONS, video_counts
from facedocket.vocab import LEGAL_BASES, OFFENCE_CATEGORIES

if TYPE_CHECKING:
    from facedocket.store.queries.transparency import Anchor, ChainEvent, TransparencyRows

AGE_GROUPS = ("<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
NOT_RECORDED = "not recorded"
OUTCOMES = ("lead", "no-lead", "open", "purged")
APPROVAL_ENDINGS = ("approved", "denied", "expired", "pending")

REQUEST_ACTIONS = ("request.filed", "request.submitted", "request.approved", "request.denied", "request.expired",
                   "request.purged")  # fmt: skip
COUNTED_ACTIONS = (*REQUEST_ACTIONS, "search.denied", "subject.erased", "retention.purged", "hold.placed",
                   "hold.released", *VIDEO_ACTIONS)  # fmt: skip
"""The audit actions a report counts: the service reads the period's events of these."""


def age_group(birth_year: int | None, year: int) -> str:
    """The age group of someone born in ``birth_year`` in ``year`` (``not recorded`` if unknown).

    >>> age_group(1990, 2026), age_group(None, 2026)
    ('35-44', 'not recorded')
    """
    if birth_year is None:
        return NOT_RECORDED
    age = year - birth_year
    if age < 18:
        return "<18"
    if age >= 65:
        return "65+"
    for group in AGE_GROUPS[1:-1]:
        low, high = (int(x) for x in group.split("-"))
        if low <= age <= high:
            return group
    raise AssertionError(age)  # pragma: no cover - the groups cover every age


def build_report(
    rows: TransparencyRows,
    chain: Iterable[ChainEvent],
    period: str,
    now: datetime,
    field_set: str = "full",
) -> dict[str, Any]:
    """The transparency report of ``period`` for the agency ``rows`` were read for (all
    agencies if their scope is None), with the fields of ``field_set``, as JSON-ready data::

        {"period", "agency", "field_set", "generated", "fields", "definitions", "audit"}

    ``chain`` is the whole audit chain, oldest first; ``audit`` holds its verification
    against the head and the first and last event of the period (sequence number, hash, time)."""
    chosen = check_request(period, field_set)
    if (rows.start, rows.end) != (chosen.start, chosen.end):
        raise ValueError(f"the rows cover {rows.start} to {rows.end}, not the period {chosen.label}")
    fields = field_set_of(field_set)
    names = {a.id: a.name for a in rows.agencies}
    scope = rows.scope
    if scope is not None and scope not in names:
        raise NotFound(f"no agency {scope}")
    counts = count_fields(rows)
    return {
        "period": {
            "label": chosen.label,
            "kind": chosen.kind,
            "start": audit.format_time(chosen.start),
            "end": audit.format_time(chosen.end),
        },
        "agency": {"id": scope, "name": names[scope] if scope is not None else "all agencies"},
        "field_set": field_set,
        "generated": audit.format_time(now),
        "fields": {name: counts[name] for name in fields.fields},
        "definitions": {name: dict(FIELD_DEFINITIONS[name]) for name in fields.fields},
        "audit": audit_section(rows, chain),
    }


def report_digest(report: Mapping[str, Any]) -> str:
    """SHA-256 of the report's canonical JSON, leaving out ``recorded_as`` (which holds it)."""
    body = {k: v for k, v in report.items() if k != "recorded_as"}
    return hashlib.sha256(audit.canonical_json(body).encode("utf-8")).hexdigest()


def count_fields(rows: TransparencyRows) -> dict[str, Any]:
    """Every field of :data:`~facedocket.oversight.transparency.fields.FIELD_DEFINITIONS`."""
    names = {a.id: a.name for a in rows.agencies}
    return {
        **_search_counts(rows, names),
        **_possible_matches(rows),
        **_event_counts(rows),
        **video_counts(rows),
    }


def audit_section(rows: TransparencyRows, chain: Iterable[ChainEvent]) -> dict[str, Any]:
    """The chain verified against the head, and the period's place in it."""
    expect = rows.head if rows.head is not None else (0, audit.GENESIS)
    result = audit.verify_chain((_hashed(e) for e in chain), expect_head=expect)
    return {
        "chain": result.as_dict(),
        "head": {"seq": expect[0], "hash": expect[1]},
        "period_events": rows.period_events,
        "period_first": _anchor(rows.period_first),
        "period_last": _anchor(rows.period_last),
    }


def _hashed(event: ChainEvent) -> dict[str, Any]:
    """The event as hashed: time formatted, details parsed back to an object."""
    return {**asdict(event), "time": audit.format_time(event.time), "details": json.loads(event.details)}


def _anchor(anchor: Anchor | None) -> dict[str, Any] | None:
    if anchor is None:
        return None
    return {"seq": anchor.seq, "hash": anchor.hash, "time": audit.format_time(anchor.time)}


def _keyed(keys: Iterable[str], counts: Counter[str]) -> dict[str, int]:
    """Every key of a closed vocabulary (0 where none), then any other key seen, sorted."""
    base = {k: int(counts.get(k, 0)) for k in keys}
    for key in sorted(counts):
        base.setdefault(key, int(counts[key]))
    return base


def _sorted(counts: Counter[str]) -> dict[str, int]:
    return {k: int(counts[k]) for k in sorted(counts)}


def _details(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _two_person(policy: Mapping[str, Any] | None) -> bool:
    review = policy.get("review") if isinstance(policy, Mapping) else None
    return bool(isinstance(review, Mapping) and review.get("two_person"))


def _crosses(target: Any, agency_id: int | None) -> bool:
    """Whether a request filed by ``agency_id`` went to another agency, ``target``."""
    return target is not None and agency_id is not None and int(target) != agency_id


def _search_counts(rows: TransparencyRows, names: Mapping[int, str]) -> dict[str, Any]:
    def name(agency_id: int) -> str:
        return names.get(agency_id, str(agency_id))

    kinds: Counter[str] = Counter()
    by: dict[str, Counter[str]] = {k: Counter() for k in ("agency", "basis", "offence", "requester", "others")}
    by_gallery_id: Counter[int] = Counter()
    emergency = 0
    emergency_requests: dict[int, str] = {}
    outcomes: dict[int, str] = {}
    for s in rows.searches:
        if s.agency_id != s.request_agency_id and rows.scope in (None, s.request_agency_id):
            by["others"][name(s.agency_id)] += 1
        if rows.scope not in (None, s.agency_id):
            continue
        kinds[s.kind] += 1
        by["agency"][name(s.agency_id)] += 1
        by["basis"][s.legal_basis] += 1
        by["offence"][s.offence_category] += 1
        by["requester"][name(s.request_agency_id)] += 1
        by_gallery_id.update(dict.fromkeys(s.galleries, 1))
        if s.emergency and (s.decided is None or s.decided > s.created):
            emergency += 1  # on the emergency path: it ran before any decision
            emergency_requests[s.request_id] = s.approval
        purged = s.approval in ("denied", "expired")
        outcomes[s.request_id] = "purged" if purged else s.outcome or "open"
    return {
        "searches": kinds["search"],
        "verifications": kinds["verify"],
        "searches_by_agency": _sorted(by["agency"]),
        "searches_by_legal_basis": _keyed(LEGAL_BASES, by["basis"]),
        "searches_by_offence": _keyed(OFFENCE_CATEGORIES, by["offence"]),
        "searches_by_gallery": _sorted(_gallery_counts(rows, by_gallery_id, names)),
        "searches_by_requesting_agency": _sorted(by["requester"]),
        "searches_requested_of_other_agencies": _sorted(by["others"]),
        "emergency_searches": emergency,
        "emergency_approval": _keyed(APPROVAL_ENDINGS, Counter(emergency_requests.values())),
        "outcomes": _keyed(OUTCOMES, Counter(outcomes.values())),
    }


def _gallery_counts(rows: TransparencyRows, by_id: Counter[int], names: Mapping[int, str]) -> Counter[str]:
    """Counts by gallery name; two counted galleries of one name are told apart by agency."""
    known = {g.id: g for g in rows.galleries if g.id in by_id}
    name_uses = Counter(g.name for g in known.values())
    by_gallery: Counter[str] = Counter()
    for gallery_id, n in by_id.items():
        gallery = known.get(gallery_id)
        if gallery is None:
            by_gallery[f"gallery {gallery_id}"] += n
        elif name_uses[gallery.name] > 1:
            by_gallery[f"{gallery.name} ({names.get(gallery.agency_id, str(gallery.agency_id))})"] += n
        else:
            by_gallery[gallery.name] += n
    return by_gallery


def _possible_matches(rows: TransparencyRows) -> dict[str, Any]:
    """Candidates judged a possible match (or released), by what the gallery recorded."""
    reviews: dict[int, list[Any]] = {}
    for review in rows.reviews:
        reviews.setdefault(review.candidate_id, []).append(review)
    two_person = {a.id: _two_person(a.policy) for a in rows.agencies}
    sexes: Counter[str] = Counter()
    ages: Counter[str] = Counter()
    races: Counter[str] = Counter()
    possible = 0
    for c in rows.candidates:
        state = candidate_state(reviews.get(c.id, []), two_person.get(c.target_agency_id, False))
        if not (c.released or state == "possible-match"):
            continue
        possible += 1
        sexes[str(c.sex) if c.sex else NOT_RECORDED] += 1
        ages[age_group(c.birth_year, c.created.year)] += 1
        race = c.attributes.get("race") if isinstance(c.attributes, Mapping) else None
        races[str(race) if race not in (None, "") else NOT_RECORDED] += 1
    return {
        "possible_matches": possible,
        "possible_matches_by_sex": _keyed((NOT_RECORDED,), sexes),
        "possible_matches_by_age_group": _keyed((*AGE_GROUPS, NOT_RECORDED), ages),
        "possible_matches_by_race": _keyed((NOT_RECORDED,), races),
    }


def _event_counts(rows: TransparencyRows) -> dict[str, Any]:
    """Requests, refusals, erasures, purges and holds, from the period's audit events."""
    request_ids: dict[str, set[str]] = {a: set() for a in REQUEST_ACTIONS}
    to_others: set[str] = set()
    rules: Counter[str] = Counter()
    plain: Counter[str] = Counter()  # refusals, erasures and holds: one per event
    purged: Counter[str] = Counter()
    for e in rows.events:
        if rows.scope not in (None, e.agency_id):
            continue
        details = _details(e.details)
        if e.action in request_ids:
            request_ids[e.action].add(e.object_id)
            target = details.get("target_agency_id")
            if e.action == "request.filed" and _crosses(target, e.agency_id):
                to_others.add(e.object_id)
        elif e.action == "search.denied":
            # a refusal of a request that crosses agencies is in both trails: count the searcher's copy
            if e.actor_id is not None and rows.users.get(e.actor_id, e.agency_id) != e.agency_id:
                continue
            plain[e.action] += 1
            failed = details.get("failed")
            rules.update(str(rule) for rule in dict.fromkeys(failed if isinstance(failed, list) else []))
        elif e.action == "retention.purged":
            count = details.get("count", 0)
            purged[str(details.get("record_type", "unspecified"))] += int(count) if isinstance(count, int) else 0
        else:
            plain[e.action] += 1
    return {
        **{f"requests_{a.removeprefix('request.')}": len(ids) for a, ids in request_ids.items()},
        "requests_to_other_agencies": len(to_others),
        "searches_refused": plain["search.denied"],
        "refusals_by_rule": _sorted(rules),
        "subjects_erased": plain["subject.erased"],
        "records_purged": _sorted(purged),
        "legal_holds_placed": plain["hold.placed"],
        "legal_holds_released": plain["hold.released"],
    }


__all__ = [
    "AGE_GROUPS",
    "APPROVAL_ENDINGS",
    "COUNTED_ACTIONS",
    "NOT_RECORDED",
    "OUTCOMES",
    "age_group",
    "audit_section",
    "build_report",
    "count_fields",
    "report_digest",
]
