"""The holes of issue 10 (section 3) that are about a route, pinned through the REST API:
reads with no audit event, subject reads by a requester, tokens minted for someone else,
and incoming drafts. (The service-level tests are in tests/service/test_holes.py.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from facedocket.store.tables import AuditEvent

from .helpers import Api

NO_FACE = "noface/dlib__dlib_test_ffmpeg_data_eagle.jpg"
ROLES = ("requester", "examiner", "supervisor", "auditor")


@pytest.fixture(scope="module")
def w(make_api: Callable[..., Api], photo: Callable[[str, int], Path], faces_dir: Path) -> SimpleNamespace:
    """The operator agency with one user per role, a gallery with one person, a searched
    request; and a second agency with a requester."""
    api = make_api()
    admin = api.operator
    users = {role: api.user(admin, f"h-{role}", role) for role in ROLES}
    gallery = api.gallery(admin, "holes booking photos")
    for number in (1, 2):
        assert api.enrol(admin, gallery, "Aaron_Peirsol", photo("Aaron_Peirsol", number)).status_code == 201
    token = {role: str(u["token"]["secret"]) for role, u in users.items()} | {"admin": admin}
    request = api.approved(token["requester"], token["supervisor"], photo("Aaron_Peirsol", 3), [gallery])
    searched = api.search(token["examiner"], request)
    assert searched.status_code == 201, searched.text
    assert searched.json()["candidates"]
    sheriff, sheriff_admin = api.agency("County Sheriff", "holes-sheriff-admin")
    return SimpleNamespace(
        api=api,
        token=token,
        username={role: str(u["user"]["username"]) for role, u in users.items()},
        user_id={role: int(u["user"]["id"]) for role, u in users.items()},
        gallery=gallery,
        request=request,
        search=int(searched.json()["id"]),
        operator_agency=int(api.ok("GET", "/me", admin)["agency"]["id"]),
        probe=photo("Aaron_Peirsol", 3),
        no_face=faces_dir / NO_FACE,
        sheriff=sheriff,
        sheriff_requester=api.staff(sheriff_admin, "holes-sheriff", "requester")["requester"],
    )


def last_seq(api: Api) -> int:
    """The newest audit event's sequence number, read from the table (no read of the log
    through the API or the service, which would itself be recorded)."""
    with api.service.sessions() as session:
        return int(session.scalar(select(func.max(AuditEvent.seq))) or 0)


def events_by(api: Api, seq: int, username: str) -> list[tuple[str, str, str]]:
    """(action, object type, object id) of the events after ``seq`` whose actor is
    ``username``, leaving out token use (``auth.*``, recorded at most every ten minutes)."""
    with api.service.sessions() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.object_type, AuditEvent.object_id)
            .where(AuditEvent.seq > seq, AuditEvent.actor == username)
            .order_by(AuditEvent.seq)
        ).all()
    return [(a, t, i) for a, t, i in rows if not a.startswith("auth.")]


# (who, method, path) of reads and actions that must each leave an audit event
RECORDED: dict[str, Callable[[SimpleNamespace], tuple[str, str, str]]] = {
    "a request's searches (candidate lists)": lambda w: ("examiner", "GET", f"/requests/{w.request}/searches"),
    "the agency's searches (candidate lists)": lambda w: ("examiner", "GET", "/searches"),
    "a gallery's subjects": lambda w: ("examiner", "GET", f"/galleries/{w.gallery}/subjects"),
    "the audit events": lambda w: ("auditor", "GET", "/audit/events"),
    "an index rebuild": lambda w: ("examiner", "POST", f"/galleries/{w.gallery}/index/rebuild"),
    # recorded already (search.viewed): shows that the check sees an event when there is one
    "one search (a candidate list)": lambda w: ("examiner", "GET", f"/searches/{w.search}"),
}


@pytest.mark.parametrize("what", list(RECORDED))
def test_reads_of_candidate_and_subject_data_are_recorded(w: SimpleNamespace, what: str) -> None:
    """Hole: candidate lists read through ``GET /requests/{id}/searches`` and ``GET
    /searches``, subject lists, ``GET /audit/events`` and index rebuilds left no audit event.
    Fixed: each leaves at least one event (other than token use) naming the caller. (The read
    of one search, recorded already, shows the check finds an event when there is one.)"""
    who, method, path = RECORDED[what](w)
    seq = last_seq(w.api)
    w.api.ok(method, path, w.token[who])
    assert events_by(w.api, seq, w.username[who]), f"{method} {path} by the {who} left no audit event"


def test_a_failed_enrolment_upload_is_recorded(w: SimpleNamespace) -> None:
    """Hole: an enrolment whose image failed (here: no face) left no audit event. Fixed: it
    leaves one naming the caller."""
    seq = last_seq(w.api)
    response = w.api.enrol(w.token["examiner"], w.gallery, "nobody", w.no_face)
    assert response.status_code == 422, response.text
    assert events_by(w.api, seq, w.username["examiner"]), "the failed enrolment left no audit event"


def test_a_requester_cannot_list_or_read_subjects(w: SimpleNamespace) -> None:
    """Hole: a requester could list a gallery's subjects with their sex and birth year.
    Fixed: ``GET /galleries/{id}/subjects`` and ``GET /subjects/{id}`` refuse a requester
    (403, or 404)."""
    subject_id = w.api.subjects(w.token["examiner"], w.gallery)["Aaron_Peirsol"]
    listed = w.api.call("GET", f"/galleries/{w.gallery}/subjects", w.token["requester"])
    assert listed.status_code in (403, 404), listed.text
    one = w.api.call("GET", f"/subjects/{subject_id}", w.token["requester"])
    assert one.status_code in (403, 404), one.text


def test_an_admin_cannot_mint_a_token_for_another_user(w: SimpleNamespace) -> None:
    """Hole: an admin issued a token for a supervisor through ``POST /tokens`` and then
    approved requests as that supervisor. Fixed: naming another user is refused (403)."""
    response = w.api.call("POST", "/tokens", w.token["admin"], json={"user_id": w.user_id["supervisor"]})
    assert response.status_code == 403, response.text


def test_an_incoming_draft_is_hidden_from_the_receiving_agency(w: SimpleNamespace) -> None:
    """Hole: a draft addressed by another agency (never submitted) and its probe were visible
    to the receiving agency. Fixed: ``GET /requests/{id}`` and ``GET /requests/{id}/probe``
    answer 404 to the receiving agency and ``GET /requests`` leaves the draft out."""
    filed = w.api.file(w.sheriff_requester, w.probe, submit=False, target_agency_id=str(w.operator_agency))
    assert filed.status_code == 201, filed.text
    draft_id = int(filed.json()["id"])
    for role in ("examiner", "supervisor", "admin"):
        token = w.token[role]
        assert w.api.call("GET", f"/requests/{draft_id}", token).status_code == 404, role
        listed: list[dict[str, Any]] = w.api.ok("GET", "/requests", token)["data"]
        assert draft_id not in [r["id"] for r in listed], role
    assert w.api.call("GET", f"/requests/{draft_id}/probe", w.token["examiner"]).status_code == 404
