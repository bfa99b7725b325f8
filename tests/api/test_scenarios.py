"""End to end through the API, one scenario per shipped policy profile.

One app holds five agencies, each under its own profile:

- State Police (the operator): ``massachusetts-2020``, the face-search unit with the
  licence-photo gallery (shared with Detroit, the Landespolizei and the research lab);
- Boston Police: ``massachusetts-2020``, a local agency that files requests to the State Police;
- Detroit Police: ``detroit-307``;
- Landespolizei: ``eu-ai-act-post-rbi``, with two examiners;
- a research lab (``research``) and a retail store (``retail-watchlist``, its own watchlist).

Tests run in file order and share the app; the emergency scenario moves the service's clock
49 hours forward, which nothing after it depends on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from facedocket.governance.audit import GENESIS, event_hash, read_jsonl, verify_chain
from facedocket.vision.models import DEFAULT_MODEL_ID, threshold_at_fmr

from .helpers import EMPTY, LEAD, Api, assert_error, rules

LOOSE = threshold_at_fmr(DEFAULT_MODEL_ID, 1e-2)
"""A threshold looser than the policy's floor for the galleries' model (SFace's score at FMR 1e-2)."""

MASS, EU, DETROIT, RESEARCH, RETAIL = (
    "massachusetts-2020", "eu-ai-act-post-rbi", "detroit-307", "research", "retail-watchlist",
)  # fmt: skip

# The licence-photo gallery: RMV-1001 and RMV-2002 are two licence records of one person
# (Amelia_Vega, photos 1-2 and 3); the held-back photo 7 finds both, so a search has a
# candidate to release and one to keep.
GALLERY = {
    "RMV-1001": ("Amelia_Vega", (1, 2)),
    "RMV-2002": ("Amelia_Vega", (3,)),
    "RMV-3003": ("Aaron_Peirsol", (1, 2)),
    "RMV-4004": ("Abdullah", (1, 2)),
}
COURT_ORDER = {
    "legal_basis": "court-order",
    "justification": "the robber's face is on the bank's CCTV; the order finds it relevant and material",
    "document_type": "court order",
    "document_reference": "2684CR000412",
    "document_issuer": "Suffolk Superior Court",
    "document_date": "2026-11-20",
    "document_sha256": hashlib.sha256(b"the signed order, as scanned").hexdigest(),
}


@pytest.fixture(scope="module")
def world(make_api: Callable[..., Api], photo: Callable[[str, int], Path]) -> SimpleNamespace:
    api = make_api(policy=None)
    api.policy(api.operator, profile=MASS)
    sp = api.staff(api.operator, "sp")
    gallery = api.gallery(api.operator, "RMV licence photos")
    for reference, (person, numbers) in GALLERY.items():
        for n in numbers:
            assert api.enrol(sp["examiner"], gallery, reference, photo(person, n)).status_code == 201
    agencies = {}
    for key, name, profile in [
        ("bpd", "Boston Police", MASS),
        ("dpd", "Detroit Police", DETROIT),
        ("lp", "Landespolizei", EU),
        ("lab", "Research Lab", RESEARCH),
        ("shop", "Corner Store", RETAIL),
    ]:
        agency_id, admin = api.agency(name, f"{key}-admin", profile=profile)
        agencies[key] = SimpleNamespace(id=agency_id, **api.staff(admin, key))
    for key in ("dpd", "lp", "lab"):
        api.ok("POST", f"/galleries/{gallery}/shares", api.operator, json={"agency_id": agencies[key].id})
    lp2 = api.user(agencies["lp"].admin, "lp-examiner-2", "examiner")["token"]["secret"]
    return SimpleNamespace(
        api=api,
        photo=photo,
        gallery=gallery,
        sp=SimpleNamespace(id=1, **sp),
        lp_examiner_2=lp2,
        subjects=api.subjects(sp["examiner"], gallery),
        **agencies,
    )


def _filed(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _by_reference(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["subject_reference"]: c for c in result["candidates"]}


def _denials(api: Api, auditor: str, agency: int, request_id: int | str) -> list[list[str]]:
    """The failed rules of each refusal to search under a request recorded in ``agency``'s
    trail, oldest first."""
    events = api.events(auditor, action="search.denied", object_id=str(request_id))
    return [e["details"]["failed"] for e in reversed(events) if e["agency_id"] == agency]


# --- 1. Massachusetts: a court-order request from Boston Police to the State Police ---------------


def test_massachusetts_court_order_across_agencies(world: SimpleNamespace) -> None:
    api, sp, bpd = world.api, world.sp, world.bpd
    probe = world.photo("Amelia_Vega", 7)
    case = api.case(bpd.requester, "robbery", "BPD-2026-0412")
    filed = _filed(api.file(bpd.requester, probe, case_id=str(case), target_agency_id=str(sp.id), **COURT_ORDER))
    request = filed["id"]
    assert (filed["agency_id"], filed["target_agency_id"], filed["status"]) == (bpd.id, sp.id, "submitted")
    assert filed["document"]["reference"] == "2684CR000412" and filed["policy_name"] == MASS
    assert filed["can_see_results"] is False and filed["emergency"] is False

    # the State Police unit's queue; Boston's own supervisor does not decide it
    assert request in [r["id"] for r in api.ok("GET", "/requests?status=submitted", sp.supervisor)["data"]]
    assert_error(api.call("POST", f"/requests/{request}/approve", bpd.supervisor, json={"reason": "x"}), 403)
    assert_error(api.search(sp.examiner, request, galleries=[world.gallery]), 403, "approve")  # not yet approved
    approved = api.ok("POST", f"/requests/{request}/approve", sp.supervisor, json={"reason": "order on file"})
    assert (approved["status"], approved["approval"]) == ("approved", "approved")

    # the unit's examiner searches its own gallery (a requester from another agency names none)
    assert_error(api.search(bpd.requester, request, galleries=[world.gallery]), 403)
    result = _filed(api.search(sp.examiner, request, galleries=[world.gallery]))
    found = _by_reference(result)
    assert set(found) == {"RMV-1001", "RMV-2002"}, found
    assert result["galleries"] == [world.gallery] and result["threshold"] >= threshold_at_fmr(DEFAULT_MODEL_ID, 1e-3)
    for candidate in result["candidates"]:
        assert candidate["label"] == LEAD and "expected_false" in candidate and candidate["released"] is False
        assert candidate["gallery_id"] == world.gallery and candidate["score"] >= result["threshold"]
    probe_view = api.call("GET", f"/requests/{request}/probe", sp.examiner)
    assert probe_view.status_code == 200 and probe_view.content == probe.read_bytes()
    assert probe_view.headers["content-type"] == "image/jpeg" and probe_view.headers["cache-control"] == "no-store"

    # review: one reviewer decides each candidate under this profile; the mate is released
    mate, other = found["RMV-1001"]["id"], found["RMV-2002"]["id"]
    for candidate, disposition in [(mate, "possible-match"), (other, "inconclusive")]:
        body = {"disposition": disposition, "rationale": "ear shape, scar above the left eyebrow"}
        review = api.ok("POST", f"/requests/{request}/candidates/{candidate}/reviews", sp.examiner, 201, json=body)
        assert (review["stage"], review["disposition"]) == ("first", disposition)
    assert_error(api.call("POST", f"/requests/{request}/conclude", bpd.requester), 403)
    concluded = api.ok("POST", f"/requests/{request}/conclude", sp.examiner, json={"release": [mate]})
    assert (concluded["status"], concluded["outcome"]) == ("reviewed", "lead")

    # Boston sees the status, the outcome and the released candidate only, without gallery ids
    seen = api.ok("GET", f"/requests/{request}", bpd.requester)
    assert (seen["status"], seen["outcome"], seen["galleries"], seen["searches"]) == ("reviewed", "lead", [], [])
    searches = api.ok("GET", f"/requests/{request}/searches", bpd.requester)["data"]
    assert len(searches) == 1 and searches[0]["galleries"] == []
    assert [(c["id"], c["subject_reference"], c["released"]) for c in searches[0]["candidates"]] == [
        (mate, "RMV-1001", True)
    ]
    assert {k: searches[0]["candidates"][0][k] for k in ("gallery_id", "template_id", "subject_id")} == dict.fromkeys(
        ("gallery_id", "template_id", "subject_id")
    )
    assert api.ok("GET", f"/searches/{result['id']}", bpd.requester) == searches[0]
    assert api.ok("GET", "/searches", bpd.auditor)["count"] == 0  # searches belong to the unit that ran them
    assert_error(api.call("GET", f"/requests/{request}/reviews", bpd.auditor), 404)

    closed = api.ok("POST", f"/requests/{request}/close", bpd.requester)
    assert (closed["status"], closed["outcome"]) == ("closed", "lead")
    unit_view = api.ok("GET", f"/requests/{request}/searches", sp.examiner)["data"][0]
    assert {c["subject_reference"]: c["released"] for c in unit_view["candidates"]} == {
        "RMV-1001": True,
        "RMV-2002": False,
    }

    # the case file: Boston's holds the released candidate only
    page = api.call("GET", f"/requests/{request}/export", bpd.requester)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-disposition"] == f'attachment; filename="request-{request}.html"'
    assert LEAD in page.text and "RMV-1001" in page.text and "RMV-2002" not in page.text
    assert "RMV-2002" in api.call("GET", f"/requests/{request}/export", sp.examiner).text

    # both agencies' audit trails hold the exchange; the chain verifies
    exchange = ["request.filed", "request.submitted", "request.approved", "request.reviewed", "request.closed"]
    for agency, auditor in [(bpd, bpd.auditor), (sp, sp.auditor)]:
        events = api.events(auditor, object_type="request", object_id=str(request), limit=1000)
        mine = [e for e in reversed(events) if e["agency_id"] == agency.id]
        actions = [e["action"] for e in mine]
        assert [a for a in actions if a in exchange] == exchange, actions
        assert {"probe.viewed", "request.exported"} <= set(actions)
        other = sp.id if agency is bpd else bpd.id
        assert all(e["details"]["counterpart_agency_id"] == other for e in mine)
    boston = api.events(bpd.auditor, limit=10_000)
    assert {e["agency_id"] for e in boston} == {bpd.id}  # Boston's auditor sees Boston's trail only
    assert "search.run" not in {e["action"] for e in boston}
    run = api.events(sp.auditor, action="search.run", object_id=str(result["id"]))
    assert run[0]["details"]["request_id"] == request and run[0]["details"]["candidates"] == 2
    for auditor in (sp.auditor, bpd.auditor):
        check = api.ok("POST", "/audit/verify", auditor)
        assert check["ok"] is True and check["broken_at"] is None and check["events"] > 20, check


# --- 2. An emergency request whose approval deadline passes -----------------------------------------


def test_emergency_deadline_passes_and_purges(world: SimpleNamespace) -> None:
    api, sp, bpd = world.api, world.sp, world.bpd
    emergency = {"legal_basis": "emergency", "justification": "child abducted an hour ago; the suspect on CCTV"}
    filed = _filed(api.file(bpd.requester, world.photo("Aaron_Peirsol", 3), "", "kidnapping",
                            target_agency_id=str(sp.id), **emergency))  # fmt: skip
    request = filed["id"]
    assert (filed["emergency"], filed["deadline"]) == (True, None)

    # searched before approval: the deadline starts with the search
    result = _filed(api.search(sp.examiner, request, galleries=[world.gallery]))
    assert [c["subject_reference"] for c in result["candidates"]] == ["RMV-3003"]
    pending = api.ok("GET", f"/requests/{request}", sp.supervisor)
    assert (pending["status"], pending["approval"], pending["purged"]) == ("searched", "pending", None)
    assert pending["deadline"] is not None
    assert api.call("GET", f"/requests/{request}/probe", bpd.requester).status_code == 200

    api.clock.advance(hours=49)  # the profile's 48 hours pass without approval

    probe = api.call("GET", f"/requests/{request}/probe", sp.examiner)  # the first thing anyone touches
    assert_error(probe, 404, "purged")
    expired = api.ok("GET", f"/requests/{request}", bpd.requester)
    assert (expired["status"], expired["approval"]) == ("expired", "expired") and expired["purged"] is not None
    searches = api.ok("GET", f"/requests/{request}/searches", sp.examiner)["data"]
    assert [(s["candidates"], s["purged"], s["summary"]) for s in searches] == [([], True, EMPTY)]
    assert api.ok("GET", f"/searches/{result['id']}", sp.examiner)["candidates"] == []
    late = api.call("POST", f"/requests/{request}/approve", sp.supervisor, json={"reason": "too late"})
    assert_error(late, 409, "expired")
    assert "request.purged" in rules(api.search(sp.examiner, request, galleries=[world.gallery]))

    for agency, auditor in [(sp, sp.auditor), (bpd, bpd.auditor)]:
        purged = [e for e in api.events(auditor, action="request.purged", object_id=str(request))
                  if e["agency_id"] == agency.id]  # fmt: skip
        assert [(e["agency_id"], e["actor"]) for e in purged] == [(agency.id, "system")]
        assert purged[0]["details"]["reason"] == "the approval deadline passed"
        assert purged[0]["details"]["candidates_removed"] == 1
        assert api.events(auditor, action="request.expired", object_id=str(request))


# --- 3. Detroit: violent crimes only, still images only, no requests from other agencies --------


def test_detroit_refuses_a_non_violent_offence_and_video_frames(world: SimpleNamespace) -> None:
    api, dpd = world.api, world.dpd
    probe = world.photo("Abdullah", 3)
    basis = {"legal_basis": "investigation", "justification": "shoplifting at a pharmacy, CCTV still"}
    # what the search gate would refuse for reasons known at submission is refused there, by the same rules
    shoplifting = api.file(dpd.requester, probe, [world.gallery], offence="shoplifting", **basis)
    assert rules(shoplifting) == ["requests.offence_categories"]

    basis = {"legal_basis": "investigation", "justification": "armed robbery, frame of the store's video"}
    frame = api.file(dpd.requester, probe, [world.gallery], probe_source="video-frame", **basis)
    refused = rules(frame)
    assert "probe.forbidden_sources" in refused and "requests.offence_categories" not in refused

    still = api.approved(dpd.requester, dpd.supervisor, probe, [world.gallery], **basis)
    allowed = _filed(api.search(dpd.examiner, still))
    assert [c["subject_reference"] for c in allowed["candidates"]] == ["RMV-4004"]

    refusals = [e["details"]["failed"] for e in reversed(api.events(dpd.auditor, action="request.refused"))]
    assert refusals[0] == ["requests.offence_categories"] and "probe.forbidden_sources" in refusals[1]

    # Detroit takes no requests from other agencies: filed and submitted at once, nothing is
    # filed; a draft submitted later stays a draft. Both refusals are recorded.
    bpd = world.bpd
    before = api.ok("GET", "/requests", bpd.requester)["count"]
    assert rules(api.file(bpd.requester, probe, target_agency_id=str(dpd.id), **COURT_ORDER)) == [
        "requests.cross_agency"
    ]
    assert api.ok("GET", "/requests", bpd.requester)["count"] == before
    draft = _filed(api.file(bpd.requester, probe, submit=False, target_agency_id=str(dpd.id), **COURT_ORDER))
    assert rules(api.call("POST", f"/requests/{draft['id']}/submit", bpd.requester)) == ["requests.cross_agency"]
    assert api.ok("GET", f"/requests/{draft['id']}", bpd.requester)["status"] == "draft"
    refusals = api.events(bpd.auditor, action="request.refused")
    assert len(refusals) == 2 and all(e["details"]["failed"] == ["requests.cross_agency"] for e in refusals)


# --- 4. EU AI Act: two reviewers, blind, who disagree -----------------------------------------------


def test_eu_two_person_review_with_disagreement(world: SimpleNamespace) -> None:
    api, lp = world.api, world.lp
    first, second = lp.examiner, world.lp_examiner_2
    request = api.approved(lp.requester, lp.supervisor, world.photo("Aaron_Peirsol", 3), [world.gallery], **COURT_ORDER)
    result = _filed(api.search(first, request))
    assert [c["subject_reference"] for c in result["candidates"]] == ["RMV-3003"]
    candidate = result["candidates"][0]["id"]
    url = f"/requests/{request}/candidates/{candidate}/reviews"

    one = api.ok("POST", url, first, 201, json={"disposition": "possible-match", "rationale": "same nose and jaw"})
    assert one["stage"] == "first"
    assert [r["id"] for r in api.ok("GET", f"/requests/{request}/reviews", first)["data"]] == [one["id"]]
    assert api.ok("GET", f"/requests/{request}/reviews", second) == {"data": [], "count": 0}  # blind
    assert api.ok("GET", f"/requests/{request}/reviews", lp.supervisor)["count"] == 0
    assert_error(api.call("POST", f"/requests/{request}/conclude", first), 409, str(candidate))

    two = api.ok("POST", url, second, 201, json={"disposition": "not-a-match", "rationale": "different hairline"})
    assert two["stage"] == "second"
    both = api.ok("GET", f"/requests/{request}/reviews", second)["data"]
    assert [(r["reviewer"], r["disposition"]) for r in both] == [
        ("lp-examiner", "possible-match"),
        ("lp-examiner-2", "not-a-match"),
    ]
    again = {"disposition": "not-a-match", "rationale": "changed my mind"}
    assert_error(api.call("POST", url, first, json=again), 409, "already")
    assert_error(api.call("POST", f"/requests/{request}/conclude", first), 409, "not decided")

    resolution = {"disposition": "possible-match", "rationale": "side by side at full size: same scar"}
    assert_error(api.call("POST", url, world.sp.supervisor, json=resolution), 404)  # another agency's supervisor
    settled = api.ok("POST", url, lp.supervisor, 201, json=resolution)
    assert settled["stage"] == "resolution"
    concluded = api.ok("POST", f"/requests/{request}/conclude", first)
    assert (concluded["status"], concluded["outcome"]) == ("reviewed", "lead")
    released = api.ok("GET", f"/requests/{request}/searches", first)["data"][0]["candidates"]
    assert [c["released"] for c in released] == [True]  # by default the possible matches
    assert api.ok("POST", f"/requests/{request}/close", lp.requester)["status"] == "closed"

    stages = [e["details"]["stage"] for e in reversed(api.events(lp.auditor, action="candidate.reviewed"))]
    assert stages == ["first", "second", "resolution"]
    outcome = api.events(lp.auditor, action="request.reviewed", object_id=str(request))
    assert outcome[0]["details"] == {"outcome": "lead", "released": [candidate]}


# --- 5. Refused and logged ------------------------------------------------------------------------


def test_searches_refused_and_logged(world: SimpleNamespace) -> None:
    api, sp, bpd = world.api, world.sp, world.bpd
    probe = world.photo("Abdullah", 3)

    assert_error(api.search(sp.examiner, 99999, galleries=[world.gallery]), 404, "99999")
    assert _denials(api, sp.auditor, sp.id, 99999) == [["request"]]

    theirs = api.approved(world.lp.requester, world.lp.supervisor, probe, [world.gallery], **COURT_ORDER)
    assert_error(api.search(sp.examiner, theirs, galleries=[world.gallery]), 404)
    denied_there = api.events(sp.auditor, action="search.denied", object_id=str(theirs))
    assert denied_there[0]["details"]["why"] == "the request is not addressed to your agency"

    filed = _filed(api.file(bpd.requester, probe, target_agency_id=str(sp.id), **COURT_ORDER))
    api.ok("POST", f"/requests/{filed['id']}/deny", sp.supervisor, json={"reason": "the order names someone else"})
    refused = rules(api.search(sp.examiner, filed["id"], galleries=[world.gallery]))
    assert {"request.state", "request.approval"} <= set(refused)

    no_document = {**COURT_ORDER, "document_reference": "", "document_issuer": ""}
    bare = api.file(bpd.requester, probe, target_agency_id=str(sp.id), **no_document)
    assert rules(bare) == ["requests.document_required_for"]  # refused at submission, not only at search

    request = api.approved(bpd.requester, sp.supervisor, probe, target_agency_id=str(sp.id), **COURT_ORDER)
    too_many = api.search(sp.examiner, request, galleries=[world.gallery], k=11)
    assert rules(too_many) == ["search.max_candidates"]
    too_low = api.search(sp.examiner, request, galleries=[world.gallery], threshold=LOOSE)
    assert rules(too_low) == ["search.threshold_floor_fmr"]
    both = rules(api.search(sp.examiner, request, galleries=[world.gallery], k=50, threshold=LOOSE))
    assert both == ["search.threshold_floor_fmr", "search.max_candidates"]  # every failed rule, at once
    assert _filed(api.search(sp.examiner, request, galleries=[world.gallery], k=10))["k"] == 10

    assert _denials(api, sp.auditor, sp.id, filed["id"]) == [refused]
    refused_bare = api.events(bpd.auditor, action="request.refused")[0]
    assert refused_bare["details"]["failed"] == ["requests.document_required_for"]
    assert _denials(api, sp.auditor, sp.id, request) == [
        ["search.max_candidates"],
        ["search.threshold_floor_fmr"],
        ["search.threshold_floor_fmr", "search.max_candidates"],
    ]
    assert _denials(api, bpd.auditor, bpd.id, request) == _denials(api, sp.auditor, sp.id, request)  # both trails
    assert api.ok("GET", f"/requests/{request}", bpd.requester)["searches"] == []


# --- the two profiles that do not search for the police -------------------------------------------


def test_research_profile_runs_no_operational_search(world: SimpleNamespace) -> None:
    api, lab = world.api, world.lab
    filed = _filed(api.file(lab.requester, world.photo("Abdullah", 3), [world.gallery], submit=False))
    submitted = api.call("POST", f"/requests/{filed['id']}/submit", lab.requester)
    assert "requests.legal_bases" in rules(submitted)
    refused = rules(api.search(lab.examiner, filed["id"]))
    assert {"operational", "request.state", "search.gallery_purposes"} <= set(refused)
    assert api.ok("GET", "/policy", lab.auditor)["profile"]["operational"] is False


def test_retail_watchlist_searches_its_watchlist_only(world: SimpleNamespace) -> None:
    api, shop = world.api, world.shop
    watchlist = _filed(api.call("POST", "/galleries", shop.admin, json={
        "name": "incidents", "source": "store CCTV stills with incident reports", "purpose": "watchlist",
    }))["id"]  # fmt: skip
    assert api.enrol(shop.admin, watchlist, "INC-0042", world.photo("Adrien_Brody", 1)).status_code == 201
    report = {
        "legal_basis": "incident-report", "justification": "repeat theft, incident report filed",
        "document_type": "incident report", "document_reference": "INC-0042", "document_issuer": "store manager",
        "document_date": "2026-11-01",
    }  # fmt: skip
    probe = world.photo("Adrien_Brody", 8)
    request = api.approved(shop.requester, shop.supervisor, probe, [watchlist], offence="shoplifting", **report)
    result = _filed(api.search(shop.examiner, request))  # default k capped by the profile's 3
    assert result["k"] == 3 and [c["subject_reference"] for c in result["candidates"]] == ["INC-0042"]
    assert rules(api.search(shop.examiner, request, k=4)) == ["search.max_candidates"]
    explained = api.ok("GET", "/policy", shop.requester)
    assert explained["name"] == RETAIL and explained["explanation"]


def test_policy_is_explained_and_profiles_listed(world: SimpleNamespace) -> None:
    api = world.api
    listed = api.ok("GET", "/policy/profiles", world.bpd.requester)
    assert [p["name"] for p in listed["data"]] == sorted([DETROIT, EU, MASS, RESEARCH, RETAIL])
    assert all(p["title"] and p["summary"] for p in listed["data"])
    policy = api.ok("GET", "/policy", world.dpd.requester)
    assert (policy["agency_id"], policy["active"], policy["name"]) == (world.dpd.id, True, DETROIT)
    assert policy["profile"]["requests"]["cross_agency"] is False
    assert len(policy["explanation"]) > 3 and all(isinstance(line, str) for line in policy["explanation"])
    events = api.events(world.dpd.auditor, action="policy.activated")
    assert [e["details"]["profile"] for e in events] == [DETROIT]


# --- 6. The audit export, verified offline, and tampering --------------------------------------------


def _export(api: Api, auditor: str) -> list[str]:
    response = api.call("GET", "/audit/export", auditor)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.headers["content-disposition"] == 'attachment; filename="audit.jsonl"'
    return response.text.splitlines()


@pytest.fixture(scope="module")
def exported(world: SimpleNamespace) -> list[str]:
    """The whole chain as the operator's auditor exports it."""
    return _export(world.api, world.sp.auditor)


def test_audit_export_verifies_offline(world: SimpleNamespace, exported: list[str]) -> None:
    result = verify_chain(read_jsonl(exported))
    assert result.ok, result
    first, last = json.loads(exported[0]), json.loads(exported[-1])
    assert (first["seq"], first["prev_hash"], first["action"]) == (1, GENESIS, "system.initialised")
    assert (result.events, result.head_seq, result.head_hash) == (len(exported), last["seq"], last["hash"])
    assert last["action"] == "audit.exported" and last["actor_id"] is not None
    online = world.api.ok("POST", "/audit/verify", world.sp.auditor)
    assert online["ok"] and online["head_seq"] == last["seq"]  # the check itself is recorded after it
    actions = {json.loads(line)["action"] for line in exported}
    assert {"request.filed", "search.run", "search.denied", "request.purged", "candidate.reviewed"} <= actions

    # an agency's auditor exports the agency's own events: each still checks against its hash
    boston = [json.loads(line) for line in _export(world.api, world.bpd.auditor)]
    assert boston and {e["agency_id"] for e in boston} == {world.bpd.id}
    assert all(event_hash(e, e["prev_hash"]) == e["hash"] for e in boston)
    assert len(boston) < len(exported)


def _edit(lines: list[str], i: int) -> list[str]:
    event = json.loads(lines[i])
    event["details"] = {**event["details"], "note": "nothing happened here"}
    return [*lines[:i], json.dumps(event), *lines[i + 1 :]]


def _forge(lines: list[str], i: int) -> list[str]:
    """Insert after line ``i`` an event that is hashed and linked correctly in itself."""
    before = json.loads(lines[i])
    forged = {**before, "seq": before["seq"] + 1, "action": "search.run", "prev_hash": before["hash"]}
    forged["hash"] = event_hash(forged, forged["prev_hash"])
    return [*lines[: i + 1], json.dumps(forged), *lines[i + 1 :]]


TAMPERING: dict[str, tuple[Callable[[list[str], int], list[str]], int, str]] = {
    # name: (what is done to the lines at index i (seq i + 1), the seq reported broken as
    # i + offset, the reason). broken_at is the first seq whose event is not what the chain
    # needs there: the edited one, the deleted one, the first of a swapped pair; a forged
    # insertion links correctly itself and breaks the chain at the seq after it.
    "edit": (_edit, 1, "edited"),
    "delete": (lambda lines, i: [*lines[:i], *lines[i + 1 :]], 1, "missing"),
    "swap": (lambda lines, i: [*lines[:i], lines[i + 1], lines[i], *lines[i + 2 :]], 1, "expected sequence"),
    "insert": (_forge, 3, "repeated or out of order"),
    "duplicate": (lambda lines, i: [*lines[: i + 1], lines[i], *lines[i + 1 :]], 2, "repeated"),
}


@pytest.mark.parametrize("how", TAMPERING)
@pytest.mark.parametrize("where", [0, 0.5, -2])
def test_tampered_export_fails_at_the_right_seq(exported: list[str], how: str, where: float) -> None:
    change, offset, reason = TAMPERING[how]
    i = int(len(exported) * where) if isinstance(where, float) else where % len(exported)
    assert json.loads(exported[i])["seq"] == i + 1
    result = verify_chain(read_jsonl(change(exported, i)))
    assert not result.ok
    assert result.broken_at == i + offset, result
    assert reason in result.reason, result.reason
