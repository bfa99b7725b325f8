"""Transparency reports a legislature can publish: counts of searches, requests, refusals,
outcomes and possible matches for one period, with the audit chain they can be checked against.

A report counts what happened in a period ``[start, end)`` (UTC): a year (``2026``), a quarter
(``2026Q3``) or a month (``2026-07``), for one agency or for all of them. Searches are counted
for the agency that ran them; a search run by another agency under a request the agency filed
is counted for the filer too, as a search requested of another agency. Requests, refusals,
erasures, purges and legal holds are counted from the audit log, the record every agency's
trail shares. Each field has a plain definition and its source in :data:`FIELD_DEFINITIONS`;
a *field set* picks the fields one law asks for (:data:`FIELD_SETS`).

The report carries the result of verifying the whole audit chain and the first and last event
of the period (sequence number and hash), so a reader holding an export of the chain can anchor
the report to it (``docs/transparency.md``).

Renderers: :func:`to_json`, :func:`to_csv` (one row per field, key and value), :func:`to_html`
(one self-contained file: inline CSS, charts as PNG ``data:`` URIs, all text escaped) and
:func:`to_pdf` (tables as text pages, then the charts).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from facedocket import audit
from facedocket.csvcells import write_rows
from facedocket.errors import InvalidInput, NotFound
from facedocket.policy.schema import LEGAL_BASES, OFFENCE_CATEGORIES
from facedocket.service.audit import event_dict
from facedocket.service.requests import candidate_state
from facedocket.store.tables import (
    Agency,
    AuditEvent,
    AuditHead,
    Candidate,
    Case,
    Gallery,
    Request,
    Review,
    Search,
    Subject,
    User,
)

# --- periods ---------------------------------------------------------------------------------

_PERIOD = re.compile(r"^(?P<year>\d{4})(?:-?[Qq](?P<quarter>[1-4])|-(?P<month>\d{2}))?$")


@dataclass(frozen=True)
class Period:
    """A reporting period: ``label`` (canonical: ``2026``, ``2026Q3``, ``2026-07``), its kind
    (``year``, ``quarter``, ``month``) and its bounds ``[start, end)`` in UTC."""

    label: str
    kind: str
    start: datetime
    end: datetime


def period_of(text: str) -> Period:
    """The :class:`Period` ``text`` names; :class:`InvalidInput` for anything else."""
    match = _PERIOD.match((text or "").strip())
    if match is None:
        raise InvalidInput(
            f"period {text!r} is not one we read: give a year (2026), a quarter (2026Q3) or a month (2026-07)"
        )
    year = int(match["year"])
    if not 1970 <= year <= 9998:
        raise InvalidInput(f"period {text!r}: the year must be between 1970 and 9998")
    if match["quarter"]:
        quarter = int(match["quarter"])
        start = datetime(year, 3 * quarter - 2, 1, tzinfo=UTC)
        end = datetime(year + 1, 1, 1, tzinfo=UTC) if quarter == 4 else datetime(year, 3 * quarter + 1, 1, tzinfo=UTC)
        return Period(f"{year}Q{quarter}", "quarter", start, end)
    if match["month"]:
        month = int(match["month"])
        if not 1 <= month <= 12:
            raise InvalidInput(f"period {text!r}: the month must be 01 to 12")
        start = datetime(year, month, 1, tzinfo=UTC)
        end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
        return Period(f"{year}-{month:02d}", "month", start, end)
    return Period(str(year), "year", datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))


def parse_period(text: str) -> tuple[datetime, datetime]:
    """``"2026Q3"`` → (2026-07-01, 2026-10-01), ``"2026"`` → the year, ``"2026-07"`` → the
    month: the bounds ``[start, end)`` as UTC datetimes. Anything else is InvalidInput."""
    period = period_of(text)
    return period.start, period.end


# --- fields and field sets -------------------------------------------------------------------

_MA = "M.G.L. c. 6 § 220"
_MD = "Md. Code, Crim. Proc. § 2-510"
_EU = "Regulation (EU) 2024/1689 Art. 26(10)"
_FD = "FaceDocket audit log"

FIELD_DEFINITIONS: dict[str, dict[str, str]] = {
    "searches": {
        "definition": "1:N searches (a probe photo against one or more galleries) run in the period by the "
        "agency reported on, under a written request.",
        "source": f"{_MA}; {_MD}; {_EU}",
    },
    "verifications": {
        "definition": "1:1 verifications (a probe photo against one person's record) run in the period by the "
        "agency reported on, under a written request.",
        "source": f"{_MA}; {_MD}; {_EU}",
    },
    "searches_by_agency": {
        "definition": "Searches and verifications run in the period, by the agency that ran them.",
        "source": f"{_MA}; {_MD}; {_EU}",
    },
    "searches_by_legal_basis": {
        "definition": "Searches and verifications run in the period, by the legal basis of the request they ran "
        "under (court order, warrant, emergency, identifying a deceased person, ...). Every legal basis is "
        "listed, with 0 where none was used.",
        "source": f"{_MA}; {_EU}",
    },
    "searches_by_offence": {
        "definition": "Searches and verifications run in the period, by the offence category of the case the "
        "request was filed under. Every offence category is listed, with 0 where none was searched for.",
        "source": f"{_MD}; {_MA}; {_EU}",
    },
    "searches_by_gallery": {
        "definition": "Searches and verifications run in the period, by gallery (the photo collection searched, "
        "e.g. licence photos or booking photos). A search of several galleries counts once for each; two "
        "galleries of the same name are told apart by their agency.",
        "source": _MA,
    },
    "searches_by_requesting_agency": {
        "definition": "Searches and verifications run in the period by the agency reported on, by the agency "
        "that filed the request (itself, or another agency that asked its face-search unit).",
        "source": _MA,
    },
    "searches_requested_of_other_agencies": {
        "definition": "Searches and verifications run in the period by another agency under a request the "
        "agency reported on filed with it, by the agency that ran them.",
        "source": _MA,
    },
    "requests_filed": {
        "definition": "Written requests filed in the period that the agency reported on filed or received.",
        "source": f"{_MA}; {_EU}",
    },
    "requests_submitted": {
        "definition": "Written requests submitted for approval in the period that the agency reported on filed "
        "or received.",
        "source": f"{_MA}; {_EU}",
    },
    "requests_approved": {
        "definition": "Requests approved by a supervisor of the receiving agency in the period (before the "
        "search, or after an emergency search).",
        "source": f"{_MA}; {_EU}",
    },
    "requests_denied": {
        "definition": "Requests denied by a supervisor of the receiving agency in the period; a denial after an "
        "emergency search purged its results.",
        "source": f"{_MA}; {_EU}",
    },
    "requests_expired": {
        "definition": "Emergency requests whose deadline for approval after the search passed in the period "
        "without an approval; their results were purged.",
        "source": f"{_MA}; {_EU}",
    },
    "requests_to_other_agencies": {
        "definition": "Requests the agency reported on filed in the period with another agency's face-search unit.",
        "source": _MA,
    },
    "emergency_searches": {
        "definition": "Searches and verifications run in the period on the emergency path: under an emergency "
        "legal basis, before a supervisor approved the request.",
        "source": f"{_MA}; {_EU}",
    },
    "emergency_approval": {
        "definition": "Emergency requests with a search in the period, by how their approval ended as of the "
        "report: approved, denied, expired (the deadline passed) or still pending.",
        "source": f"{_MA}; {_EU}",
    },
    "searches_refused": {
        "definition": "Search attempts the policy gate refused in the period (no search ran), counted for the "
        "agency that attempted them.",
        "source": _EU,
    },
    "refusals_by_rule": {
        "definition": "Refused search attempts in the period, by each policy rule that refused them (one attempt "
        "that broke two rules counts under both).",
        "source": _EU,
    },
    "outcomes": {
        "definition": "Requests with a search in the period, by outcome as of the report: lead (a candidate was "
        "judged a possible match by trained reviewers), no-lead, open (review not finished) or purged (denied or "
        "expired after an emergency search).",
        "source": f"{_MA}; {_MD}",
    },
    "possible_matches": {
        "definition": "Candidates of searches run in the period that reviewers judged a possible match or that "
        "were released to the requesting agency. A possible match is an investigative lead, not an "
        "identification.",
        "source": _MD,
    },
    "possible_matches_by_sex": {
        "definition": "Possible matches by the sex recorded for the person in the gallery; 'not recorded' where "
        "the gallery holds none.",
        "source": _MD,
    },
    "possible_matches_by_age_group": {
        "definition": "Possible matches by age group: the search year minus the birth year recorded for the "
        "person in the gallery; 'not recorded' where the gallery holds no birth year.",
        "source": _MD,
    },
    "possible_matches_by_race": {
        "definition": "Possible matches by the race recorded for the person in the gallery (the 'race' attribute, "
        "as the gallery records it); 'not recorded' where the gallery holds none.",
        "source": _MD,
    },
    "subjects_erased": {
        "definition": "Person records erased in the period (on request or by order), with their templates and photos.",
        "source": f"{_FD}; {_EU}",
    },
    "requests_purged": {
        "definition": "Requests whose probe photo and candidate lists were purged in the period because approval "
        "was denied or came too late.",
        "source": f"{_EU}; {_MA}",
    },
    "records_purged": {
        "definition": "Records deleted in the period by the retention job because their retention period ended, "
        "by record type.",
        "source": f"{_FD}; {_EU}",
    },
    "legal_holds_placed": {
        "definition": "Legal holds placed in the period (records kept past their retention period for litigation "
        "or an investigation).",
        "source": _FD,
    },
    "legal_holds_released": {
        "definition": "Legal holds released in the period.",
        "source": _FD,
    },
}
"""Every field a report can hold: a plain definition and the law (or record) it serves."""


@dataclass(frozen=True)
class FieldSet:
    """The fields one law asks for, the period it covers (None: any) and a title."""

    title: str
    law: str
    period: str | None
    fields: tuple[str, ...]


_MA_FIELDS = (
    "searches",
    "verifications",
    "searches_by_agency",
    "searches_by_requesting_agency",
    "searches_requested_of_other_agencies",
    "searches_by_legal_basis",
    "searches_by_offence",
    "searches_by_gallery",
    "emergency_searches",
    "emergency_approval",
    "requests_filed",
    "requests_approved",
    "requests_denied",
    "requests_expired",
    "requests_to_other_agencies",
    "outcomes",
)

FIELD_SETS: dict[str, FieldSet] = {
    "massachusetts-quarterly": FieldSet("Facial recognition searches: quarterly report", _MA, "quarter", _MA_FIELDS),
    "massachusetts-annual": FieldSet("Facial recognition searches: annual report", _MA, "year", _MA_FIELDS),
    "maryland-annual": FieldSet(
        "Facial recognition technology: annual report",
        _MD,
        "year",
        (
            "searches",
            "verifications",
            "searches_by_agency",
            "searches_by_offence",
            "outcomes",
            "possible_matches",
            "possible_matches_by_sex",
            "possible_matches_by_age_group",
            "possible_matches_by_race",
        ),
    ),
    "eu-art-26-10-yearly": FieldSet(
        "Post-remote biometric identification: annual report",
        _EU,
        "year",
        (
            "searches",
            "verifications",
            "searches_by_agency",
            "searches_by_legal_basis",
            "searches_by_offence",
            "requests_filed",
            "requests_approved",
            "requests_denied",
            "requests_expired",
            "emergency_searches",
            "emergency_approval",
            "requests_purged",
            "searches_refused",
            "refusals_by_rule",
            "subjects_erased",
            "records_purged",
        ),
    ),
    "full": FieldSet("Transparency report: every field", f"{_MA}; {_MD}; {_EU}; {_FD}", None, tuple(FIELD_DEFINITIONS)),
}
"""Field sets by name; each is named after the law it serves."""

AGE_GROUPS = ("<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
NOT_RECORDED = "not recorded"
OUTCOMES = ("lead", "no-lead", "open", "purged")
APPROVAL_ENDINGS = ("approved", "denied", "expired", "pending")
FORMATS = ("json", "csv", "html", "pdf")

_EVENT_ACTIONS = (
    "request.filed",
    "request.submitted",
    "request.approved",
    "request.denied",
    "request.expired",
    "request.purged",
    "search.denied",
    "subject.erased",
    "retention.purged",
    "hold.placed",
    "hold.released",
)


def age_group(birth_year: int | None, year: int) -> str:
    """The age group of someone born in ``birth_year`` in ``year`` (``not recorded`` if unknown)."""
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


def field_set_of(name: str) -> FieldSet:
    fields = FIELD_SETS.get(name)
    if fields is None:
        raise InvalidInput(f"no field set {name!r}; use one of: {', '.join(FIELD_SETS)}")
    return fields


def check_request(period: str, field_set: str) -> Period:
    """The period, after checking it and the field set go together (InvalidInput otherwise)."""
    chosen = period_of(period)
    fields = field_set_of(field_set)
    if fields.period is not None and fields.period != chosen.kind:
        example = {"quarter": "2026Q3", "year": "2026", "month": "2026-07"}[fields.period]
        raise InvalidInput(
            f"the {field_set} report covers a {fields.period} (e.g. {example}); {chosen.label} is a {chosen.kind}"
        )
    return chosen


# --- counting --------------------------------------------------------------------------------


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


def _two_person(agency: Agency | None) -> bool:
    policy = agency.policy if agency is not None else None
    review = policy.get("review") if isinstance(policy, dict) else None
    return bool(isinstance(review, dict) and review.get("two_person"))


def _count_fields(
    session: Session, start: datetime, end: datetime, scope: int | None, names: dict[int, str]
) -> dict[str, Any]:
    def mine(agency_id: int | None) -> bool:
        return scope is None or agency_id == scope

    in_period = (Search.created >= start) & (Search.created < end)
    searches = session.execute(
        select(
            Search.kind,
            Search.agency_id,
            Search.galleries,
            Search.created,
            Request.id,
            Request.agency_id,
            Request.legal_basis,
            Request.emergency,
            Request.approval,
            Request.outcome,
            Request.decided,
            Case.offence_category,
        )
        .join(Request, Request.id == Search.request_id)
        .join(Case, Case.id == Request.case_id)
        .where(in_period)
        .order_by(Search.id)
    ).all()
    kinds: Counter[str] = Counter()
    by_agency: Counter[str] = Counter()
    by_basis: Counter[str] = Counter()
    by_offence: Counter[str] = Counter()
    by_gallery_id: Counter[int] = Counter()
    by_requester: Counter[str] = Counter()
    of_others: Counter[str] = Counter()
    emergency = 0
    emergency_requests: dict[int, str] = {}
    outcomes: dict[int, str] = {}
    for (kind, runner, galleries, created, request_id, filer, basis, is_emergency, approval, outcome, decided,
         offence) in searches:  # fmt: skip
        if runner != filer and mine(filer):
            of_others[names.get(runner, str(runner))] += 1
        if not mine(runner):
            continue
        kinds[kind] += 1
        by_agency[names.get(runner, str(runner))] += 1
        by_basis[basis] += 1
        by_offence[offence] += 1
        by_requester[names.get(filer, str(filer))] += 1
        for gallery_id in dict.fromkeys(int(g) for g in galleries or []):
            by_gallery_id[gallery_id] += 1
        if is_emergency and (decided is None or decided > created):
            emergency += 1  # on the emergency path: it ran before any decision
            emergency_requests[request_id] = approval
        if approval in ("denied", "expired"):
            outcomes[request_id] = "purged"
        else:
            outcomes[request_id] = outcome or "open"

    gallery_rows = {
        gid: (name, owner)
        for gid, name, owner in session.execute(
            select(Gallery.id, Gallery.name, Gallery.agency_id).where(Gallery.id.in_(list(by_gallery_id) or [-1]))
        )
    }
    name_uses = Counter(name for name, _ in gallery_rows.values())
    by_gallery: Counter[str] = Counter()
    for gallery_id, n in by_gallery_id.items():
        name, owner = gallery_rows.get(gallery_id, (f"gallery {gallery_id}", None))
        key = f"{name} ({names.get(owner, str(owner))})" if name_uses[name] > 1 and owner is not None else name
        by_gallery[key] += n

    # possible matches: candidates decided possible-match (or released), with what the gallery recorded
    scope_filter = in_period if scope is None else in_period & (Search.agency_id == scope)
    candidates = session.execute(
        select(
            Candidate.id,
            Candidate.released,
            Search.created,
            Request.target_agency_id,
            Subject.sex,
            Subject.birth_year,
            Subject.attributes,
        )
        .join(Search, Search.id == Candidate.search_id)
        .join(Request, Request.id == Search.request_id)
        .outerjoin(Subject, Subject.id == Candidate.subject_id)
        .where(scope_filter)
        .order_by(Candidate.id)
    ).all()
    reviews: dict[int, list[Review]] = {}
    review_rows = session.scalars(
        select(Review)
        .join(Candidate, Candidate.id == Review.candidate_id)
        .join(Search, Search.id == Candidate.search_id)
        .where(scope_filter)
        .order_by(Review.id)
    )
    for review in review_rows:
        reviews.setdefault(review.candidate_id, []).append(review)
    two_person = {a.id: _two_person(a) for a in session.scalars(select(Agency))}
    sexes: Counter[str] = Counter()
    ages: Counter[str] = Counter()
    races: Counter[str] = Counter()
    possible = 0
    for candidate_id, released, created, target, sex, birth_year, attributes in candidates:
        state = candidate_state(reviews.get(candidate_id, []), two_person.get(target, False))
        if not (released or state == "possible-match"):
            continue
        possible += 1
        sexes[str(sex) if sex else NOT_RECORDED] += 1
        ages[age_group(birth_year, created.year)] += 1
        race = (attributes or {}).get("race") if isinstance(attributes, dict) else None
        races[str(race) if race not in (None, "") else NOT_RECORDED] += 1

    # from the audit log
    users = dict(session.execute(select(User.id, User.agency_id)).all())
    events = session.execute(
        select(AuditEvent.action, AuditEvent.agency_id, AuditEvent.actor_id, AuditEvent.object_id, AuditEvent.details)
        .where(AuditEvent.time >= start, AuditEvent.time < end, AuditEvent.action.in_(_EVENT_ACTIONS))
        .order_by(AuditEvent.seq)
    ).all()
    request_ids: dict[str, set[str]] = {a: set() for a in _EVENT_ACTIONS if a.startswith("request.")}
    to_others: set[str] = set()
    refused = 0
    rules: Counter[str] = Counter()
    erased = placed = released_holds = 0
    purged: Counter[str] = Counter()
    for action, agency_id, actor_id, object_id, text in events:
        if not mine(agency_id):
            continue
        details = _details(text)
        if action in request_ids:
            request_ids[action].add(object_id)
            if action == "request.filed":
                target = details.get("target_agency_id")
                if target is not None and agency_id is not None and int(target) != agency_id:
                    to_others.add(object_id)
        elif action == "search.denied":
            # a refusal of a request that crosses agencies is in both trails: count the searcher's copy
            if actor_id is not None and users.get(actor_id, agency_id) != agency_id:
                continue
            refused += 1
            failed = details.get("failed")
            for rule in dict.fromkeys(failed if isinstance(failed, list) else []):
                rules[str(rule)] += 1
        elif action == "subject.erased":
            erased += 1
        elif action == "retention.purged":
            count = details.get("count", 0)
            purged[str(details.get("record_type", "unspecified"))] += int(count) if isinstance(count, int) else 0
        elif action == "hold.placed":
            placed += 1
        elif action == "hold.released":
            released_holds += 1

    return {
        "searches": kinds["search"],
        "verifications": kinds["verify"],
        "searches_by_agency": _sorted(by_agency),
        "searches_by_legal_basis": _keyed(LEGAL_BASES, by_basis),
        "searches_by_offence": _keyed(OFFENCE_CATEGORIES, by_offence),
        "searches_by_gallery": _sorted(by_gallery),
        "searches_by_requesting_agency": _sorted(by_requester),
        "searches_requested_of_other_agencies": _sorted(of_others),
        "requests_filed": len(request_ids["request.filed"]),
        "requests_submitted": len(request_ids["request.submitted"]),
        "requests_approved": len(request_ids["request.approved"]),
        "requests_denied": len(request_ids["request.denied"]),
        "requests_expired": len(request_ids["request.expired"]),
        "requests_to_other_agencies": len(to_others),
        "emergency_searches": emergency,
        "emergency_approval": _keyed(APPROVAL_ENDINGS, Counter(emergency_requests.values())),
        "searches_refused": refused,
        "refusals_by_rule": _sorted(rules),
        "outcomes": _keyed(OUTCOMES, Counter(outcomes.values())),
        "possible_matches": possible,
        "possible_matches_by_sex": _keyed((NOT_RECORDED,), sexes),
        "possible_matches_by_age_group": _keyed((*AGE_GROUPS, NOT_RECORDED), ages),
        "possible_matches_by_race": _keyed((NOT_RECORDED,), races),
        "subjects_erased": erased,
        "requests_purged": len(request_ids["request.purged"]),
        "records_purged": _sorted(purged),
        "legal_holds_placed": placed,
        "legal_holds_released": released_holds,
    }


def _audit_section(session: Session, start: datetime, end: datetime) -> dict[str, Any]:
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    expect = (int(head[0]), str(head[1])) if head is not None else (0, audit.GENESIS)

    def events() -> Iterator[dict[str, Any]]:
        query = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=2000)
        for row in session.scalars(query):
            yield event_dict(row)

    result = audit.verify_chain(events(), expect_head=expect)
    bounds = session.execute(
        select(func.min(AuditEvent.seq), func.max(AuditEvent.seq), func.count())
        .where(AuditEvent.time >= start, AuditEvent.time < end)
    ).one()  # fmt: skip

    def anchor(seq: int | None) -> dict[str, Any] | None:
        row = session.get(AuditEvent, seq) if seq is not None else None
        if row is None:
            return None
        return {"seq": row.seq, "hash": row.hash, "time": audit.format_time(row.time)}

    return {
        "chain": result.as_dict(),
        "head": {"seq": expect[0], "hash": expect[1]},
        "period_events": int(bounds[2] or 0),
        "period_first": anchor(bounds[0]),
        "period_last": anchor(bounds[1]),
    }


def build_report(
    session: Session, period: str, agency_id: int | None, now: datetime, field_set: str = "full"
) -> dict[str, Any]:
    """The transparency report of ``period`` for one agency (or all, ``agency_id`` None), with
    the fields of ``field_set``, as JSON-ready data::

        {"period", "agency", "field_set", "generated", "fields", "definitions", "audit"}

    ``audit`` holds the verification of the whole chain against its head and the first and
    last event of the period (sequence number, hash, time)."""
    chosen = check_request(period, field_set)
    fields = field_set_of(field_set)
    names = {int(i): str(n) for i, n in session.execute(select(Agency.id, Agency.name))}
    if agency_id is not None and agency_id not in names:
        raise NotFound(f"no agency {agency_id}")
    counts = _count_fields(session, chosen.start, chosen.end, agency_id, names)
    return {
        "period": {
            "label": chosen.label,
            "kind": chosen.kind,
            "start": audit.format_time(chosen.start),
            "end": audit.format_time(chosen.end),
        },
        "agency": {"id": agency_id, "name": names[agency_id] if agency_id is not None else "all agencies"},
        "field_set": field_set,
        "generated": audit.format_time(now),
        "fields": {name: counts[name] for name in fields.fields},
        "definitions": {name: dict(FIELD_DEFINITIONS[name]) for name in fields.fields},
        "audit": _audit_section(session, chosen.start, chosen.end),
    }


def report_digest(report: dict[str, Any]) -> str:
    """SHA-256 of the report's canonical JSON, leaving out ``recorded_as`` (which holds it)."""
    body = {k: v for k, v in report.items() if k != "recorded_as"}
    return hashlib.sha256(audit.canonical_json(body).encode("utf-8")).hexdigest()


# --- rendering -------------------------------------------------------------------------------


def _title(report: dict[str, Any]) -> str:
    fields = FIELD_SETS.get(str(report.get("field_set")))
    return fields.title if fields else "Transparency report"


def _law(report: dict[str, Any]) -> str:
    fields = FIELD_SETS.get(str(report.get("field_set")))
    return fields.law if fields else ""


def _meta_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    period = report["period"]
    audit_part = report["audit"]
    chain = audit_part["chain"]
    rows = [
        ("report", _title(report)),
        ("law", _law(report)),
        ("field set", str(report["field_set"])),
        ("period", f"{period['label']} ({period['start']} to {period['end']}, end excluded)"),
        ("agency", str(report["agency"]["name"])),
        ("generated", str(report["generated"])),
        ("audit chain", "verifies" if chain["ok"] else f"BROKEN at seq {chain['broken_at']}: {chain['reason']}"),
        ("audit head", f"seq {audit_part['head']['seq']} hash {audit_part['head']['hash']}"),
        ("events in period", str(audit_part["period_events"])),
    ]
    for label, key in (("first event of period", "period_first"), ("last event of period", "period_last")):
        anchor = audit_part.get(key)
        rows.append((label, f"seq {anchor['seq']} hash {anchor['hash']}" if anchor else "none"))
    recorded = report.get("recorded_as")
    if recorded:
        rows.append(("recorded as", f"audit event seq {recorded['seq']}, report sha256 {recorded['sha256']}"))
    return rows


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def csv_rows(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field, key, value) rows: first the report's identity and audit anchor (fields named
    ``report.*`` and ``audit.*``), then one row per count (key empty for a single number)."""
    audit_part = report["audit"]
    chain = audit_part["chain"]
    rows: list[tuple[str, str, str]] = [
        ("report.period", "", str(report["period"]["label"])),
        ("report.start", "", str(report["period"]["start"])),
        ("report.end", "", str(report["period"]["end"])),
        ("report.agency", "", str(report["agency"]["name"])),
        ("report.agency_id", "", "" if report["agency"]["id"] is None else str(report["agency"]["id"])),
        ("report.field_set", "", str(report["field_set"])),
        ("report.generated", "", str(report["generated"])),
        ("audit.chain_ok", "", "true" if chain["ok"] else "false"),
        ("audit.broken_at", "", "" if chain["broken_at"] is None else str(chain["broken_at"])),
        ("audit.head_seq", "", str(audit_part["head"]["seq"])),
        ("audit.head_hash", "", str(audit_part["head"]["hash"])),
        ("audit.period_events", "", str(audit_part["period_events"])),
    ]
    for key in ("period_first", "period_last"):
        anchor = audit_part.get(key)
        rows.append((f"audit.{key}_seq", "", str(anchor["seq"]) if anchor else ""))
        rows.append((f"audit.{key}_hash", "", str(anchor["hash"]) if anchor else ""))
    recorded = report.get("recorded_as")
    if recorded:
        rows.append(("report.recorded_as_seq", "", str(recorded["seq"])))
        rows.append(("report.sha256", "", str(recorded["sha256"])))
    for name, value in report["fields"].items():
        if isinstance(value, dict):
            rows += [(name, str(k), str(v)) for k, v in value.items()]
        else:
            rows.append((name, "", str(value)))
    return rows


def to_csv(report: dict[str, Any]) -> str:
    """The report as CSV; text a spreadsheet would run as a formula is escaped (csvcells.py)."""
    out = io.StringIO()
    write_rows(out, [("field", "key", "value"), *csv_rows(report)])
    return out.getvalue()


def _mpl(text: object) -> str:
    """Text for matplotlib, with ``$`` escaped so nothing is read as mathtext."""
    return str(text).replace("$", r"\$")


def _chart_fields(report: dict[str, Any]) -> list[str]:
    return [n for n, v in report["fields"].items() if isinstance(v, dict) and any(int(x) for x in v.values())]


def _bar_figure(name: str, values: dict[str, int]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    labels = list(values)
    height = max(2.2, 0.32 * len(labels) + 1.2)
    figure = Figure(figsize=(7.5, height))
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    axes.barh(positions, [int(values[k]) for k in labels], color="#3b6ea5")
    axes.set_yticks(positions, [_mpl(k) for k in labels])
    axes.invert_yaxis()
    axes.set_title(_mpl(name.replace("_", " ")))
    axes.set_xlabel("count")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    for position, label in zip(positions, labels, strict=True):
        if values[label]:
            axes.annotate(str(values[label]), (values[label], position), xytext=(3, 0), textcoords="offset points",
                          va="center", fontsize=8)  # fmt: skip
    figure.tight_layout()
    return figure


def chart_pngs(report: dict[str, Any]) -> dict[str, bytes]:
    """A horizontal bar chart (PNG) for each breakdown with any count above 0."""
    charts: dict[str, bytes] = {}
    for name in _chart_fields(report):
        buffer = io.BytesIO()
        _bar_figure(name, report["fields"][name]).savefig(buffer, format="png", dpi=96)
        charts[name] = buffer.getvalue()
    return charts


_CSS = """
body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#111;line-height:1.45}
h1,h2{border-bottom:1px solid #ccc;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}
td,th{border:1px solid #bbb;padding:.25rem .5rem;text-align:left;vertical-align:top;font-size:.92rem}
th{background:#eee} td.n{text-align:right} .def{color:#444;font-size:.9rem} .src{color:#666;font-size:.82rem}
.broken{background:#fde2e2;border:2px solid #b00;padding:.5rem}
.ok{background:#e6f4e6;border:1px solid #393;padding:.5rem}
code{font-size:.8rem;word-break:break-all} img{max-width:100%}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def to_html(report: dict[str, Any]) -> str:
    """One self-contained HTML page: no external assets, every text escaped."""
    charts = chart_pngs(report)
    chain = report["audit"]["chain"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(_title(report))} — {_e(report['period']['label'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_e(_title(report))}</h1>",
        f"<p><strong>{_e(report['agency']['name'])}</strong>, {_e(report['period']['label'])}. "
        f"Serves: {_e(_law(report))}.</p>",
    ]
    if chain["ok"]:
        parts.append(f'<p class="ok">The audit chain verifies: {_e(chain["events"])} events, intact to its head.</p>')
    else:
        parts.append(
            f'<p class="broken">The audit chain does NOT verify: broken at seq {_e(chain["broken_at"])} '
            f"({_e(chain['reason'])}). The counts below may not be trustworthy.</p>"
        )
    parts.append("<h2>About this report</h2><table>")
    parts += [f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>" for k, v in _meta_rows(report)]
    parts.append("</table>")
    scalars = [(n, v) for n, v in report["fields"].items() if not isinstance(v, dict)]
    definitions = report.get("definitions", {})
    if scalars:
        parts.append("<h2>Counts</h2><table><tr><th>field</th><th>count</th><th>definition</th></tr>")
        for name, value in scalars:
            definition = definitions.get(name, {})
            parts.append(
                f'<tr><td>{_e(name)}</td><td class="n">{_e(value)}</td><td><span class="def">'
                f'{_e(definition.get("definition"))}</span><br><span class="src">{_e(definition.get("source"))}'
                "</span></td></tr>"
            )
        parts.append("</table>")
    for name, value in report["fields"].items():
        if not isinstance(value, dict):
            continue
        definition = definitions.get(name, {})
        parts.append(f"<h2>{_e(name.replace('_', ' '))}</h2>")
        parts.append(f'<p class="def">{_e(definition.get("definition"))}</p>')
        parts.append(f'<p class="src">Source: {_e(definition.get("source"))}</p>')
        if value:
            parts.append("<table><tr><th>key</th><th>count</th></tr>")
            parts += [f'<tr><td>{_e(k)}</td><td class="n">{_e(v)}</td></tr>' for k, v in value.items()]
            parts.append("</table>")
        else:
            parts.append("<p>none</p>")
        if name in charts:
            data = base64.b64encode(charts[name]).decode("ascii")
            parts.append(f'<p><img alt="{_e(name)} (bar chart)" src="data:image/png;base64,{data}"></p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _text_lines(report: dict[str, Any]) -> list[str]:
    lines = [_title(report), _law(report), ""]
    lines += [f"{k}: {v}" for k, v in _meta_rows(report)]
    lines.append("")
    definitions = report.get("definitions", {})
    for name, value in report["fields"].items():
        if isinstance(value, dict):
            lines.append(f"{name}:")
            lines += [f"    {k}: {v}" for k, v in value.items()] or ["    none"]
        else:
            lines.append(f"{name}: {value}")
    lines += ["", "Definitions", ""]
    for name in report["fields"]:
        definition = definitions.get(name, {})
        lines.append(f"{name}: {definition.get('definition', '')}")
        lines.append(f"    source: {definition.get('source', '')}")
    return lines


def _wrap(lines: list[str], width: int) -> list[str]:
    import textwrap

    wrapped: list[str] = []
    for line in lines:
        indent = len(line) - len(line.lstrip(" "))
        wrapped += textwrap.wrap(line, width, subsequent_indent=" " * (indent + 4)) or [""]
    return wrapped


def to_pdf(report: dict[str, Any]) -> bytes:
    """A PDF: the identity, audit anchor and tables as text pages, then one chart a page."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    lines = _wrap(_text_lines(report), 95)
    per_page = 60
    buffer = io.BytesIO()
    with PdfPages(buffer, metadata={"Title": f"{_title(report)} {report['period']['label']}"}) as pdf:
        for first in range(0, len(lines), per_page):
            page = Figure(figsize=(8.27, 11.69))
            page.text(0.06, 0.96, _mpl("\n".join(lines[first : first + per_page])), family="monospace",
                      fontsize=7.5, va="top")  # fmt: skip
            pdf.savefig(page)
        for name in _chart_fields(report):
            pdf.savefig(_bar_figure(name, report["fields"][name]))
    return buffer.getvalue()


def render(report: dict[str, Any], fmt: str) -> str | bytes:
    """The report as ``json``, ``csv``, ``html`` (text) or ``pdf`` (bytes)."""
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    if fmt == "html":
        return to_html(report)
    if fmt == "pdf":
        return to_pdf(report)
    raise InvalidInput(f"format must be one of: {', '.join(FORMATS)}")


MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
