"""Transparency reports: one quarter driven through the real service (real pipeline and photos),
and every count of the report checked against the scenario that produced it.

The scenario (State Police is the operator agency and runs the face-search unit; County
Sheriff is a second agency that files one request with it and searches a gallery shared with
it) is in :func:`build_quarter`; the expected numbers in :data:`EXPECTED` are written from that
scenario by hand, not from the report module. Q2 and Q4 events around the quarter must not be
counted. The main scenario runs on SQLite and once on PostgreSQL.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from audit_tamper import tamper
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pg_testserver import PostgresServer
from policy_texts import permissive
from tokens import own_token

from facedocket.api import create_app
from facedocket.cli import cli
from facedocket.config import Settings
from facedocket.errors import Forbidden, InvalidInput, NotFound, PolicyDenied
from facedocket.oversight import transparency
from facedocket.oversight.transparency import FIELD_DEFINITIONS, FIELD_SETS, age_group, parse_period
from facedocket.service import Actor, EnrolItem, RequestDraft, Service, open_service
from facedocket.vision.pipeline import FacePipeline
from facedocket.vocab import LEGAL_BASES, OFFENCE_CATEGORIES

FACES = Path(os.environ.get("FACEDOCKET_FACES", Path(__file__).resolve().parents[3] / "shared" / "faces"))
DEV = FACES / "dev"


# --- the scenario --------------------------------------------------------------------------

POLICY = permissive(retention={"probe_images": 30})

ENROLLED = {"Abdullah_Gul": [1, 2, 3], "Adrien_Brody": [1, 3], "Amelia_Vega": [1, 2, 3], "Ai_Sugiyama": [1, 3]}
HELD_BACK = {"Abdullah_Gul": 7, "Adrien_Brody": 8, "Amelia_Vega": 7, "Ai_Sugiyama": 5}
OUTSIDER = "Albert_Costa"  # never enrolled
# Recorded fields of the gallery's person records. These are placeholders for the test, not
# facts about the people photographed; Ai_Sugiyama's record holds none ("not recorded").
RECORDED = {
    "Amelia_Vega": {"sex": "female", "birth_year": 1984, "race": "category-1"},
    "Abdullah_Gul": {"sex": "male", "birth_year": 1950, "race": "category-2"},
}

SP, CS = "State Police", "County Sheriff"


def at(month: int, day: int, hour: int = 9) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = at(6, 10)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Staff:
    id: int
    actors: dict[str, Actor]
    secrets: dict[str, str]

    def __getattr__(self, role: str) -> Actor:
        try:
            return self.actors[role]
        except KeyError:
            raise AttributeError(role) from None


@dataclass
class Quarter:
    service: Service
    clock: Clock
    sp: Staff
    cs: Staff
    gallery_id: int
    requests: dict[str, int] = field(default_factory=dict)


def open_test_service(home: Path, url: str, clock: Clock, pipeline: FacePipeline) -> Service:
    settings = Settings(home=home, database_url=url, jitter=False, token_ttl_days=3650)  # the quarter spans months
    return open_service(settings, clock=clock, pipeline=pipeline)


def _staff(service: Service, admin_secret: str, prefix: str) -> Staff:
    admin = service.accounts.authenticate(admin_secret)
    actors, secrets = {"admin": admin}, {"admin": admin_secret}
    for role in ("supervisor", "examiner", "requester", "auditor"):
        _info, activation = service.accounts.create_user(admin, f"{prefix}-{role}", role)
        secrets[role] = own_token(service, activation).secret
        actors[role] = service.accounts.authenticate(secrets[role])
    return Staff(admin.agency_id, actors, secrets)


def probe(person: str) -> bytes:
    return (DEV / person / f"{HELD_BACK.get(person, 1)}.jpg").read_bytes()


def file_request(
    service: Service, agency: Staff, basis: str, offence: str, person: str, target: Staff | None = None,
    galleries: list[int] | None = None,
) -> int:  # fmt: skip
    number = f"2026-{offence}-{basis}-{service.clock().strftime('%m%d%H%M%S%f')}"
    case = service.requests.create_case(agency.requester, number, offence, "test case")
    draft = RequestDraft(
        case.id, basis, "suspect on CCTV", document_type="order", document_reference="D-1", document_issuer="court",
        document_date="2026-06-01", galleries=list(galleries or []), target_agency_id=target.id if target else None,
    )  # fmt: skip
    return service.requests.file_request(agency.requester, draft, probe(person), submit=True).id


def review_all(service: Service, examiner: Actor, request_id: int, mate: str) -> None:
    """The candidate whose reference is ``mate`` is a possible match, every other is not."""
    (search,) = service.searches.request_searches(examiner, request_id)
    assert search.candidates and search.candidates[0].subject_reference == mate
    for c in search.candidates:
        disposition = "possible-match" if c.subject_reference == mate else "not-a-match"
        service.review.review_candidate(examiner, request_id, c.id, disposition, "compared facial features")
    assert service.review.conclude_request(examiner, request_id).outcome == "lead"


def build_quarter(service: Service, clock: Clock) -> Quarter:
    # --- Q2: the set-up, and events before the quarter ---------------------------------
    clock.now = at(6, 10)
    token = service.accounts.bootstrap(SP, "admin")
    sp = _staff(service, token.secret, "sp")
    service.policy.activate_policy_text(sp.admin, POLICY)
    gallery = service.galleries.create_gallery(sp.admin, "booking", "booking photos", "criminal investigations")
    items = [
        EnrolItem(reference=p, source=str(DEV / p / f"{n}.jpg"), attributes=dict(RECORDED.get(p, {})))
        for p, ns in ENROLLED.items() for n in ns
    ]  # fmt: skip
    assert service.enrolment.enroll(sp.admin, gallery.id, items).counts.get("enrolled") == len(items)
    _info, cs_token = service.accounts.create_agency(sp.admin, CS, "cs-admin")
    cs = _staff(service, own_token(service, cs_token).secret, "cs")
    service.policy.activate_policy_text(cs.admin, POLICY)
    service.galleries.share_gallery(sp.admin, gallery.id, cs.id)
    q = Quarter(service, clock, sp, cs, gallery.id)
    subjects = {s.reference: s.id for s in service.galleries.list_subjects(sp.admin, gallery.id)}

    clock.now = at(6, 20)
    q.requests["q2"] = rq2 = file_request(service, sp, "warrant", "robbery", "Amelia_Vega", galleries=[gallery.id])
    service.requests.decide_request(sp.supervisor, rq2, True, "warrant on file")
    service.searches.search(sp.examiner, rq2)
    with pytest.raises(NotFound):
        service.searches.search(sp.examiner, 999_999)  # a refusal in Q2
    q2_hold = service.oversight.place_hold(
        sp.supervisor, "case", service.requests.get_request(sp.supervisor, rq2).case_id, "appeal"
    )

    # --- Q3 ------------------------------------------------------------------------------
    clock.now = at(7, 6)  # R1: warrant, robbery; approved, searched, a possible match released: lead
    q.requests["r1"] = r1 = file_request(service, sp, "warrant", "robbery", "Amelia_Vega", galleries=[gallery.id])
    service.requests.decide_request(sp.supervisor, r1, True, "warrant on file")
    service.searches.search(sp.examiner, r1)
    review_all(service, sp.examiner, r1, "Amelia_Vega")

    clock.now = at(7, 7)  # R2: court order, homicide; approved; a 1:1 verification, never reviewed: open
    q.requests["r2"] = r2 = file_request(service, sp, "court-order", "homicide", "Abdullah_Gul", galleries=[gallery.id])
    service.requests.decide_request(sp.supervisor, r2, True, "order on file")
    service.searches.verify(sp.examiner, r2, subjects["Abdullah_Gul"])

    clock.now = at(7, 8)  # R3: the sheriff asks the state police (warrant, burglary); nobody found: no-lead
    q.requests["r3"] = r3 = file_request(service, cs, "warrant", "burglary", OUTSIDER, target=sp)
    service.requests.decide_request(sp.supervisor, r3, True, "warrant on file")
    assert service.searches.search(sp.examiner, r3, [gallery.id]).empty
    assert service.review.conclude_request(sp.examiner, r3).outcome == "no-lead"
    with pytest.raises(NotFound):
        service.searches.search(cs.examiner, r3, [gallery.id])  # refused: not addressed to the sheriff

    clock.now = at(7, 9)  # R4: emergency, kidnapping; searched before approval, then approved: lead
    q.requests["r4"] = r4 = file_request(service, sp, "emergency", "kidnapping", "Ai_Sugiyama", galleries=[gallery.id])
    service.searches.search(sp.examiner, r4)
    review_all(service, sp.examiner, r4, "Ai_Sugiyama")
    clock.now = at(7, 9, 12)
    service.requests.decide_request(sp.supervisor, r4, True, "imminent threat confirmed")

    clock.now = at(7, 10)  # R5: emergency, homicide; searched, never approved: expired and purged
    q.requests["r5"] = r5 = file_request(service, sp, "emergency", "homicide", "Abdullah_Gul", galleries=[gallery.id])
    service.searches.search(sp.examiner, r5)
    clock.now = at(7, 12, 10)  # 49 hours later
    assert service.requests.expire_overdue() == [r5]

    clock.now = at(7, 13)  # R6: warrant, fraud; denied; a search attempt is refused
    q.requests["r6"] = r6 = file_request(service, sp, "warrant", "fraud", "Amelia_Vega", galleries=[gallery.id])
    service.requests.decide_request(sp.supervisor, r6, False, "no specific facts")
    with pytest.raises(PolicyDenied):
        service.searches.search(sp.examiner, r6)

    clock.now = at(7, 14)  # R7: warrant, theft; never approved; a search attempt is refused
    q.requests["r7"] = r7 = file_request(service, sp, "warrant", "theft", "Amelia_Vega", galleries=[gallery.id])
    with pytest.raises(PolicyDenied):
        service.searches.search(sp.examiner, r7)

    clock.now = at(7, 15)  # R8: the sheriff's own request, searched in the gallery shared with it: open
    q.requests["r8"] = r8 = file_request(service, cs, "deceased-identification", "deceased-identification",
                                         "Adrien_Brody", galleries=[gallery.id])  # fmt: skip
    service.requests.decide_request(cs.supervisor, r8, True, "coroner's request")
    service.searches.search(cs.examiner, r8)

    clock.now = at(7, 16)  # legal holds: the Q2 hold released, one placed on R1's case
    service.oversight.release_hold(sp.supervisor, q2_hold.id)
    r1_hold = service.oversight.place_hold(
        sp.supervisor, "case", service.requests.get_request(sp.supervisor, r1).case_id, "trial"
    )

    clock.now = at(7, 20)  # an erasure
    service.oversight.erase_subject(sp.admin, subjects["Adrien_Brody"], "data subject's request of 2026-07-01")

    clock.now = at(9, 20)  # retention: the sheriff's admin runs it for the sheriff (R8's probe) ...
    assert service.oversight.retention_run(cs.admin).deleted["probe_images"] == [r8]
    clock.now = at(9, 21)  # ... and the scheduled job for everyone (R1's probe is held)
    report = service.oversight.retention_run()
    assert sorted(report.deleted["probe_images"]) == sorted([rq2, r2, r3, r4, r6, r7])

    # --- Q4: after the quarter -------------------------------------------------------------
    clock.now = at(10, 5)
    q.requests["q4"] = rq4 = file_request(service, sp, "warrant", "robbery", "Amelia_Vega", galleries=[gallery.id])
    service.requests.decide_request(sp.supervisor, rq4, True, "warrant on file")
    service.searches.search(sp.examiner, rq4)
    service.requests.decide_request(sp.supervisor, r7, True, "late approval")
    service.oversight.release_hold(sp.supervisor, r1_hold.id)
    clock.now = at(10, 6)
    return q


def _zeros(keys: tuple[str, ...], **counts: int) -> dict[str, int]:
    values = dict.fromkeys(keys, 0)
    values.update({k.replace("_", "-"): v for k, v in counts.items()})
    return values


AGES = ("<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+", "not recorded")
BASES = tuple(LEGAL_BASES)
OFFENCES = tuple(OFFENCE_CATEGORIES)

EXPECTED: dict[str, dict[str, Any]] = {
    SP: {
        "searches": 4,  # R1, R3, R4, R5
        "verifications": 1,  # R2
        "searches_by_agency": {SP: 5},
        "searches_by_legal_basis": _zeros(BASES, warrant=2, court_order=1, emergency=2),
        "searches_by_offence": _zeros(OFFENCES, robbery=1, homicide=2, burglary=1, kidnapping=1),
        "searches_by_gallery": {"booking": 5},
        "searches_by_requesting_agency": {SP: 4, CS: 1},
        "searches_requested_of_other_agencies": {},
        "requests_filed": 7,  # R1-R7 (R3 filed with it)
        "requests_submitted": 7,
        "requests_approved": 4,  # R1, R2, R3, R4
        "requests_denied": 1,  # R6
        "requests_expired": 1,  # R5
        "requests_to_other_agencies": 0,
        "emergency_searches": 2,  # R4, R5
        "emergency_approval": {"approved": 1, "denied": 0, "expired": 1, "pending": 0},
        "searches_refused": 2,  # R6, R7 (the Q2 refusal is outside)
        "refusals_by_rule": {"request.state": 1, "request.approval": 1, "requests.approval_before_search": 1},
        "outcomes": {"lead": 2, "no-lead": 1, "open": 1, "purged": 1},
        "possible_matches": 2,  # Amelia_Vega (R1), Ai_Sugiyama (R4)
        "possible_matches_by_sex": {"female": 1, "not recorded": 1},
        "possible_matches_by_age_group": {**dict.fromkeys(AGES, 0), "35-44": 1, "not recorded": 1},
        "possible_matches_by_race": {"category-1": 1, "not recorded": 1},
        "subjects_erased": 1,
        "requests_purged": 1,  # R5
        "records_purged": {"probe_images": 6},  # the scheduled retention run, recorded per agency
        "legal_holds_placed": 1,
        "legal_holds_released": 1,
    },
    CS: {
        "searches": 1,  # R8
        "verifications": 0,
        "searches_by_agency": {CS: 1},
        "searches_by_legal_basis": _zeros(BASES, deceased_identification=1),
        "searches_by_offence": _zeros(OFFENCES, deceased_identification=1),
        "searches_by_gallery": {"booking": 1},
        "searches_by_requesting_agency": {CS: 1},
        "searches_requested_of_other_agencies": {SP: 1},  # R3
        "requests_filed": 2,  # R3, R8
        "requests_submitted": 2,
        "requests_approved": 2,
        "requests_denied": 0,
        "requests_expired": 0,
        "requests_to_other_agencies": 1,  # R3
        "emergency_searches": 0,
        "emergency_approval": {"approved": 0, "denied": 0, "expired": 0, "pending": 0},
        "searches_refused": 1,  # its examiner tried R3
        "refusals_by_rule": {"request": 1},
        "outcomes": {"lead": 0, "no-lead": 0, "open": 1, "purged": 0},
        "possible_matches": 0,
        "possible_matches_by_sex": {"not recorded": 0},
        "possible_matches_by_age_group": dict.fromkeys(AGES, 0),
        "possible_matches_by_race": {"not recorded": 0},
        "subjects_erased": 0,
        "requests_purged": 0,
        "records_purged": {"probe_images": 1},  # the run its admin started
        "legal_holds_placed": 0,
        "legal_holds_released": 0,
    },
}
EXPECTED["all"] = {
    **EXPECTED[SP],
    "searches": 5,
    "searches_by_agency": {SP: 5, CS: 1},
    "searches_by_legal_basis": _zeros(BASES, warrant=2, court_order=1, emergency=2, deceased_identification=1),
    "searches_by_offence": _zeros(OFFENCES, robbery=1, homicide=2, burglary=1, kidnapping=1, deceased_identification=1),
    "searches_by_gallery": {"booking": 6},
    "searches_by_requesting_agency": {SP: 4, CS: 2},
    "searches_requested_of_other_agencies": {SP: 1},
    "requests_filed": 8,
    "requests_submitted": 8,
    "requests_approved": 5,
    "requests_to_other_agencies": 1,
    "searches_refused": 3,
    "refusals_by_rule": {"request.state": 1, "request.approval": 1, "requests.approval_before_search": 1, "request": 1},
    "outcomes": {"lead": 2, "no-lead": 1, "open": 2, "purged": 1},
    "records_purged": {"probe_images": 7},  # R8 by the sheriff, six more by the scheduled run
}
NO_VIDEO = {
    "video_deployments": 0, "video_hours_active": 0.0, "faces_seen": 0, "alerts": 0, "alerts_confirmed": 0,
    "alerts_dismissed": 0, "false_alert_share": None, "false_alert_rate": None, "deployments_refused": 0,
    "watchlist_entries_added": 0, "watchlist_entries_expired": 0, "watchlist_entries_removed": 0,
}  # fmt: skip
"""No agency of this quarter ran video (tests/video/test_deployment_reports.py counts those)."""
for _fields in EXPECTED.values():
    _fields.update(NO_VIDEO)


def check_reports(q: Quarter) -> None:
    """Every count of the three reports (each agency, all agencies) against :data:`EXPECTED`,
    and the audit anchor against the events of the quarter."""
    service = q.service
    reports = {
        SP: service.reports.transparency_report(q.sp.auditor, "2026Q3", q.sp.id),
        CS: service.reports.transparency_report(q.cs.auditor, "2026Q3"),
        "all": service.reports.transparency_report(q.sp.auditor, "2026Q3"),
    }
    events = list(reversed([e.as_dict() for e in service.audit.list_audit(q.sp.admin, limit=10_000)]))
    inside = [e for e in events if "2026-07-01T00:00:00" <= e["time"] < "2026-10-01T00:00:00"]
    for scope, report in reports.items():
        assert set(report) == {"period", "agency", "field_set", "generated", "fields", "definitions", "audit",
                               "recorded_as"}  # fmt: skip
        assert report["period"] == {"label": "2026Q3", "kind": "quarter", "start": "2026-07-01T00:00:00.000000Z",
                                    "end": "2026-10-01T00:00:00.000000Z"}  # fmt: skip
        assert report["agency"]["name"] == ("all agencies" if scope == "all" else scope)
        assert report["generated"] == "2026-10-06T09:00:00.000000Z"
        assert report["fields"] == EXPECTED[scope], scope
        assert set(report["definitions"]) == set(report["fields"]) == set(FIELD_DEFINITIONS)
        chain = report["audit"]["chain"]
        assert chain["ok"] and chain["broken_at"] is None
        assert report["audit"]["head"] == {"seq": chain["head_seq"], "hash": chain["head_hash"]}
        assert report["audit"]["period_events"] == len(inside)
        assert report["audit"]["period_first"]["seq"] == inside[0]["seq"]
        assert report["audit"]["period_first"]["hash"] == inside[0]["hash"]
        assert report["audit"]["period_last"]["seq"] == inside[-1]["seq"]
        assert report["audit"]["period_last"]["hash"] == inside[-1]["hash"]
    recorded = {
        e["seq"]: e for e in [e.as_dict() for e in service.audit.list_audit(q.sp.admin, action="report.generated")]
    }
    for report in reports.values():
        event = recorded[report["recorded_as"]["seq"]]
        assert event["details"]["sha256"] == report["recorded_as"]["sha256"] == transparency.report_digest(report)
        assert event["details"]["period"] == "2026Q3"
    assert recorded[reports[CS]["recorded_as"]["seq"]]["agency_id"] == q.cs.id
    assert service.audit.verify_audit(q.sp.auditor).ok


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quarter(tmp_path_factory: pytest.TempPathFactory, fast_pipeline: FacePipeline) -> Iterator[Quarter]:
    """The quarter on SQLite, built once for the module's tests (which only read it, and add
    report events after the quarter)."""
    clock = Clock()
    service = open_test_service(tmp_path_factory.mktemp("quarter"), "", clock, fast_pipeline)
    yield build_quarter(service, clock)
    service.close()


# --- the counts ----------------------------------------------------------------------------


def test_every_count_of_the_quarter_on_sqlite(quarter: Quarter) -> None:
    check_reports(quarter)


def test_every_count_of_the_quarter_on_postgresql(
    tmp_path: Path, postgres_server: PostgresServer, fast_pipeline: FacePipeline
) -> None:
    clock = Clock()
    service = open_test_service(tmp_path / "home", postgres_server.create_database(), clock, fast_pipeline)
    try:
        check_reports(build_quarter(service, clock))
    finally:
        service.close()


def test_a_year_counts_the_quarters_around_it_and_a_month_only_its_own(quarter: Quarter) -> None:
    service, sp = quarter.service, quarter.sp
    year = service.reports.transparency_report(sp.auditor, "2026", sp.id, "massachusetts-annual")
    assert (year["fields"]["searches"], year["fields"]["verifications"]) == (6, 1)  # + Q2 and Q4 searches
    assert year["fields"]["requests_approved"] == 7  # + the Q2 and Q4 requests, and R7 approved in Q4
    assert year["fields"]["outcomes"] == {"lead": 2, "no-lead": 1, "open": 3, "purged": 1}
    july = service.reports.transparency_report(sp.auditor, "2026-07", sp.id)["fields"]
    assert (july["searches"], july["verifications"], july["legal_holds_placed"]) == (4, 1, 1)
    assert july["records_purged"] == {} and july["requests_expired"] == 1
    q4 = service.reports.transparency_report(sp.auditor, "2026Q4")["fields"]
    assert (q4["searches"], q4["requests_approved"], q4["legal_holds_released"]) == (1, 2, 1)


def test_field_sets_hold_the_fields_of_their_law(quarter: Quarter) -> None:
    service, auditor = quarter.service, quarter.sp.auditor
    for name, chosen in FIELD_SETS.items():
        period = {"quarter": "2026Q3", "year": "2026", None: "2026Q3"}[chosen.period]
        report = service.reports.transparency_report(auditor, period, field_set=name)
        assert report["field_set"] == name
        assert list(report["fields"]) == list(chosen.fields) == list(report["definitions"])
        assert all(set(d) == {"definition", "source"} and d["definition"] for d in report["definitions"].values())
    md = service.reports.transparency_report(auditor, "2026", field_set="maryland-annual")["fields"]
    assert md["possible_matches"] == 2 and md["possible_matches_by_race"] == {"category-1": 1, "not recorded": 1}
    ma = service.reports.transparency_report(auditor, "2026Q3", field_set="massachusetts-quarterly")["fields"]
    assert "possible_matches" not in ma and ma["emergency_searches"] == 2
    eu = service.reports.transparency_report(auditor, "2026", field_set="eu-art-26-10-yearly")["fields"]
    assert eu["emergency_approval"] == {"approved": 1, "denied": 0, "expired": 1, "pending": 0}
    with pytest.raises(InvalidInput, match="covers a quarter"):
        service.reports.transparency_report(auditor, "2026", field_set="massachusetts-quarterly")
    with pytest.raises(InvalidInput, match="covers a year"):
        service.reports.transparency_report(auditor, "2026Q3", field_set="maryland-annual")
    with pytest.raises(InvalidInput, match="no field set"):
        service.reports.transparency_report(auditor, "2026Q3", field_set="texas")
    for name, chosen in FIELD_SETS.items():  # each field cites the law of every set it is in
        laws = chosen.law.split("; ")
        assert all(law in FIELD_DEFINITIONS[f]["source"] for f in chosen.fields for law in laws if name != "full")


def test_the_docs_give_every_field_its_definition_and_source() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "transparency.md").read_text(encoding="utf-8")
    for name, definition in FIELD_DEFINITIONS.items():
        assert f"`{name}`" in docs
        assert definition["definition"] in docs and definition["source"] in docs, name
    for name, chosen in FIELD_SETS.items():
        assert f"`{name}`" in docs and all(f"`{f}`" in docs for f in chosen.fields)


# --- who may ask -----------------------------------------------------------------------------


def test_an_agency_auditor_reports_on_their_agency_only(quarter: Quarter) -> None:
    service, sp, cs = quarter.service, quarter.sp, quarter.cs
    with pytest.raises(NotFound):
        service.reports.transparency_report(cs.auditor, "2026Q3", sp.id)
    with pytest.raises(NotFound):
        service.reports.transparency_report(cs.admin, "2026Q3", sp.id)
    assert service.reports.transparency_report(cs.admin, "2026Q3", cs.id)["agency"] == {"id": cs.id, "name": CS}
    assert service.reports.transparency_report(sp.admin, "2026Q3", cs.id)["agency"] == {"id": cs.id, "name": CS}
    with pytest.raises(NotFound):
        service.reports.transparency_report(sp.auditor, "2026Q3", 999)
    for role in ("requester", "examiner", "supervisor"):
        with pytest.raises(Forbidden):
            service.reports.transparency_report(sp.actors[role], "2026Q3")
    with pytest.raises(InvalidInput, match="period"):
        service.reports.transparency_report(sp.auditor, "Q3 2026")


# --- periods ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026Q3", datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)),
        ("2026q1", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)),
        ("2026-Q4", datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026", datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (" 2026-07 ", datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC)),
        ("2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        ("2028-02", datetime(2028, 2, 1, tzinfo=UTC), datetime(2028, 3, 1, tzinfo=UTC)),
    ],
)
def test_parse_period(text: str, start: datetime, end: datetime) -> None:
    assert parse_period(text) == (start, end)


@pytest.mark.parametrize("text", ["", "26", "2026Q5", "2026Q0", "2026-13", "2026-00", "2026-7", "Q3", "2026/07",
                                  "2026-07-01", "1900", "latest"])  # fmt: skip
def test_parse_period_refuses_the_rest(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_period(text)


def test_age_groups_at_their_edges() -> None:
    cases = {2009: "<18", 2008: "18-24", 2002: "18-24", 2001: "25-34", 1992: "25-34", 1991: "35-44", 1982: "35-44",
             1981: "45-54", 1972: "45-54", 1971: "55-64", 1962: "55-64", 1961: "65+"}  # fmt: skip
    assert {year: age_group(year, 2026) for year in cases} == cases
    assert age_group(None, 2026) == "not recorded"


# --- renderers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(quarter: Quarter) -> dict[str, Any]:
    return quarter.service.reports.transparency_report(quarter.sp.auditor, "2026Q3")


def test_csv_cells_that_spreadsheets_would_run_are_text(report: dict[str, Any]) -> None:
    hostile = copy.deepcopy(report)
    hostile["agency"]["name"] = '=HYPERLINK("http://evil.example","open")'
    hostile["fields"]["searches_by_gallery"] = {"@SUM(1+1)": 2, "+cmd": 1, "-x": 1, "booking": 3}
    rows = list(csv.reader(io.StringIO(transparency.to_csv(hostile))))
    cells = {(f, k): v for f, k, v in rows[1:]}
    assert cells[("report.agency", "")] == "'" + hostile["agency"]["name"]
    assert {k for f, k, _ in rows[1:] if f == "searches_by_gallery"} == {"'@SUM(1+1)", "'+cmd", "'-x", "booking"}
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "@") or cell.startswith("-x")]


def test_json_and_csv(report: dict[str, Any]) -> None:
    assert json.loads(transparency.to_json(report)) == report
    rows = list(csv.reader(io.StringIO(transparency.to_csv(report))))
    assert rows[0] == ["field", "key", "value"]
    assert all(len(r) == 3 for r in rows)
    body = {(f, k): v for f, k, v in rows[1:]}
    assert body[("searches", "")] == "5" and body[("verifications", "")] == "1"
    assert body[("searches_by_legal_basis", "warrant")] == "2"
    assert body[("searches_by_offence", "homicide")] == "2"
    assert body[("outcomes", "purged")] == "1"
    assert body[("possible_matches_by_age_group", "35-44")] == "1"
    assert body[("audit.chain_ok", "")] == "true"
    assert body[("audit.period_first_hash", "")] == report["audit"]["period_first"]["hash"]
    assert body[("report.sha256", "")] == report["recorded_as"]["sha256"]
    counted = [r for r in rows[1:] if not r[0].startswith(("report.", "audit."))]
    expected = sum(len(v) if isinstance(v, dict) else 1 for v in report["fields"].values())
    assert len(counted) == expected


def _hostile(report: dict[str, Any]) -> dict[str, Any]:
    """The report with names that must be escaped (in HTML) and not read as mathtext (charts)."""
    changed = json.loads(json.dumps(report))
    changed["agency"]["name"] = "<script>alert(1)</script> & Co"
    changed["fields"]["searches_by_gallery"] = {'<img src=x onerror="alert(1)">': 3, "price $5 $x^2$": 2}
    return changed


def test_html_is_self_contained_with_charts_and_escaped(report: dict[str, Any]) -> None:
    page = transparency.to_html(_hostile(report))
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count('src="data:image/png;base64,') >= 5
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in page
    for external in ("http://", "https://", "<link", "@import", "url("):
        assert external not in page
    assert "The audit chain verifies" in page
    assert all(name.replace("_", " ") in page for name in report["fields"] if isinstance(report["fields"][name], dict))


def test_pdf(report: dict[str, Any]) -> None:
    data = transparency.to_pdf(_hostile(report))
    assert data.startswith(b"%PDF") and data.rstrip().endswith(b"%%EOF")
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") + data.count(b"/Type/Page") >= 2
    assert transparency.render(report, "csv") == transparency.to_csv(report)
    with pytest.raises(InvalidInput):
        transparency.render(report, "docx")


# --- the audit anchor --------------------------------------------------------------------------


def test_the_report_says_whether_the_chain_verifies(tmp_path: Path, fast_pipeline: FacePipeline) -> None:
    clock = Clock()
    service = open_test_service(tmp_path / "home", "", clock, fast_pipeline)
    try:
        token = service.accounts.bootstrap(SP, "admin")
        admin = service.accounts.authenticate(token.secret)
        _info, auditor_token = service.accounts.create_user(admin, "auditor", "auditor")
        auditor = service.accounts.authenticate(own_token(service, auditor_token).secret)
        _info, requester_token = service.accounts.create_user(admin, "requester", "requester")
        requester = service.accounts.authenticate(own_token(service, requester_token).secret)
        clock.now = at(8, 1)
        for n in range(3):
            service.requests.create_case(requester, f"C-{n}", "robbery")
        good = service.reports.transparency_report(auditor, "2026Q3")
        assert good["audit"]["chain"]["ok"] and good["audit"]["period_events"] == 3
        target = good["audit"]["period_first"]["seq"] + 1
        tamper(service, f"UPDATE audit_event SET actor = 'somebody else' WHERE seq = {target}")
        bad = service.reports.transparency_report(auditor, "2026Q3")
        assert not bad["audit"]["chain"]["ok"] and bad["audit"]["chain"]["broken_at"] == target
        assert "edited" in bad["audit"]["chain"]["reason"]
        assert "does NOT verify" in transparency.to_html(bad)
        assert ["audit.chain_ok", "", "false"] in list(csv.reader(io.StringIO(transparency.to_csv(bad))))
    finally:
        service.close()


# --- the shells ------------------------------------------------------------------------------


def test_the_api_serves_every_format(quarter: Quarter) -> None:
    service, sp, cs = quarter.service, quarter.sp, quarter.cs
    with TestClient(create_app(service.settings, service)) as client:

        def get(secret: str, **params: Any) -> Any:
            return client.get("/api/v1/reports/transparency", params=params,
                              headers={"Authorization": f"Bearer {secret}"})  # fmt: skip

        body = get(sp.secrets["auditor"], period="2026Q3", agency_id=sp.id).json()
        assert "fields" in body, body
        assert body["fields"] == EXPECTED[SP] and body["recorded_as"]["seq"] > 0
        response = get(sp.secrets["auditor"], period="2026Q3", format="csv")
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        assert "searches,,5" in response.text.splitlines()
        response = get(cs.secrets["auditor"], period="2026Q3", format="html")
        assert response.headers["content-type"].startswith("text/html") and "County Sheriff" in response.text
        response = get(sp.secrets["admin"], period="2026", field_set="maryland-annual", format="pdf")
        assert response.headers["content-type"] == "application/pdf" and response.content.startswith(b"%PDF")
        missing = get(cs.secrets["auditor"], period="2026Q3", agency_id=sp.id)
        assert missing.status_code == 404 and missing.json()["ok"] is False
        assert get(sp.secrets["auditor"], period="someday").status_code == 400
        assert get(sp.secrets["requester"], period="2026Q3").status_code == 403
        assert get(sp.secrets["auditor"], period="2026Q3", format="docx").status_code == 422


def test_the_cli_writes_every_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_pipeline: FacePipeline
) -> None:
    def open_service(settings: Settings) -> Service:
        return open_test_service(settings.home, settings.database_url, Clock(), fast_pipeline)

    monkeypatch.setattr("facedocket.cli.service.open_service", open_service)
    monkeypatch.delenv("FACEDOCKET_TOKEN", raising=False)
    monkeypatch.delenv("FACEDOCKET_DATABASE_URL", raising=False)
    runner = CliRunner()
    home = tmp_path / "home"

    def run(*args: str) -> Any:
        result = runner.invoke(cli, ["--home", str(home), *args])
        return result

    assert run("init").exit_code == 0
    result = run("report", "transparency", "--period", "2026Q2", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "searches,,0" in result.output.splitlines() and "audit.chain_ok,,true" in result.output
    out = tmp_path / "r.pdf"
    result = run("report", "transparency", "--period", "2026", "--field-set", "eu-art-26-10-yearly", "--format", "pdf",
                 "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF") and "recorded as audit event" in result.output
    for fmt in ("html", "json"):
        out = tmp_path / f"r.{fmt}"
        assert run("report", "transparency", "--period", "2026Q2", "--format", fmt, "--out", str(out)).exit_code == 0
        assert out.stat().st_size > 500
    assert json.loads((tmp_path / "r.json").read_text())["field_set"] == "full"
    assert run("report", "transparency", "--period", "2026Q2", "--format", "pdf").exit_code != 0  # needs --out
    bad = run("report", "transparency", "--period", "2026", "--field-set", "massachusetts-quarterly")
    assert bad.exit_code != 0 and isinstance(bad.exception, InvalidInput)
