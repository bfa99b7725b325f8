"""No agency sees another's data: every endpoint hides agency A's galleries, subjects, cases,
requests, searches, reviews, users and tokens from agency B (404, or absent from lists) until
A shares a gallery, and a shared gallery may be searched, never changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from .helpers import Api, assert_error


@pytest.fixture(scope="module")
def world(make_api: Callable[..., Api], photo: Callable[[str, int], Path]) -> SimpleNamespace:
    api = make_api()
    a_admin = api.operator
    a_examiner = api.user(a_admin, "a-examiner", "examiner")
    a = api.staff(a_admin, "a", "requester", "supervisor")
    b_agency, b_admin = api.agency("County Sheriff", "b-admin")
    b = api.staff(b_admin, "b", "requester", "examiner", "supervisor")
    gallery = api.gallery(a_admin, "A booking photos")
    for name, number in [("Aaron_Peirsol", 1), ("Aaron_Peirsol", 2), ("Abdullah", 1)]:
        assert api.enrol(a_admin, gallery, name, photo(name, number)).status_code == 201
    request = api.approved(a["requester"], a["supervisor"], photo("Aaron_Peirsol", 3), [gallery])
    search = api.search(a_examiner["token"]["secret"], request)
    assert search.status_code == 201, search.text
    return SimpleNamespace(
        api=api,
        photo=photo("Aaron_Peirsol", 3),
        a_admin=a_admin,
        a_examiner=a_examiner["token"]["secret"],
        a_user=a_examiner["user"]["id"],
        a_token=a_examiner["token"]["id"],
        b_agency=b_agency,
        b_admin=b_admin,
        b_examiner=b["examiner"],
        b_requester=b["requester"],
        b_supervisor=b["supervisor"],
        gallery=gallery,
        subject=api.subjects(a_admin, gallery)["Aaron_Peirsol"],
        case=api.ok("GET", f"/requests/{request}", a_admin)["case_id"],
        request=request,
        search=search.json()["id"],
        candidate=search.json()["candidates"][0]["id"],
    )


def _probe_form(w: SimpleNamespace, **fields: Any) -> dict[str, Any]:
    files = {"probe": ("probe.jpg", w.photo.read_bytes(), "image/jpeg")}
    data = {"legal_basis": "warrant", "justification": "j", **fields}
    return {"data": data, "files": files}


# (who in agency B, method, path, request keyword arguments), built from the world
HIDDEN: dict[str, Callable[[SimpleNamespace], tuple[str, str, str, dict[str, Any]]]] = {
    "get gallery": lambda w: ("b_admin", "GET", f"/galleries/{w.gallery}", {}),
    "list subjects": lambda w: ("b_admin", "GET", f"/galleries/{w.gallery}/subjects", {}),
    "enrol": lambda w: (
        "b_admin", "POST", f"/galleries/{w.gallery}/subjects",
        {"data": {"reference": "x"}, "files": {"image": ("p.jpg", w.photo.read_bytes(), "image/jpeg")}},
    ),
    "share": lambda w: ("b_admin", "POST", f"/galleries/{w.gallery}/shares", {"json": {"agency_id": w.b_agency}}),
    "unshare": lambda w: ("b_admin", "DELETE", f"/galleries/{w.gallery}/shares/{w.b_agency}", {}),
    "rebuild index": lambda w: ("b_admin", "POST", f"/galleries/{w.gallery}/index/rebuild", {}),
    "get subject": lambda w: ("b_admin", "GET", f"/subjects/{w.subject}", {}),
    "delete subject": lambda w: ("b_admin", "DELETE", f"/subjects/{w.subject}", {}),
    "get case": lambda w: ("b_requester", "GET", f"/cases/{w.case}", {}),
    "file under a's case": lambda w: ("b_requester", "POST", "/requests", _probe_form(w, case_id=str(w.case))),
    "name a's gallery": lambda w: (
        "b_requester", "POST", "/requests", _probe_form(w, case_id=str(w.b_case), galleries=str(w.gallery)),
    ),
    "get request": lambda w: ("b_requester", "GET", f"/requests/{w.request}", {}),
    "approve": lambda w: ("b_supervisor", "POST", f"/requests/{w.request}/approve", {"json": {"reason": "r"}}),
    "deny": lambda w: ("b_supervisor", "POST", f"/requests/{w.request}/deny", {"json": {"reason": "r"}}),
    "probe": lambda w: ("b_requester", "GET", f"/requests/{w.request}/probe", {}),
    "search": lambda w: ("b_examiner", "POST", f"/requests/{w.request}/searches", {"json": {}}),
    "verify": lambda w: ("b_examiner", "POST", f"/requests/{w.request}/verifications", {"json": {"subject_id": 1}}),
    "request searches": lambda w: ("b_examiner", "GET", f"/requests/{w.request}/searches", {}),
    "review": lambda w: (
        "b_examiner", "POST", f"/requests/{w.request}/candidates/{w.candidate}/reviews",
        {"json": {"disposition": "not-a-match", "rationale": "r"}},
    ),
    "reviews": lambda w: ("b_supervisor", "GET", f"/requests/{w.request}/reviews", {}),
    "conclude": lambda w: ("b_examiner", "POST", f"/requests/{w.request}/conclude", {}),
    "close": lambda w: ("b_supervisor", "POST", f"/requests/{w.request}/close", {}),
    "export": lambda w: ("b_requester", "GET", f"/requests/{w.request}/export", {}),
    "get search": lambda w: ("b_admin", "GET", f"/searches/{w.search}", {}),
    "deactivate user": lambda w: ("b_admin", "POST", f"/users/{w.a_user}/deactivate", {}),
    "activate user": lambda w: ("b_admin", "POST", f"/users/{w.a_user}/activate", {}),
    "revoke token": lambda w: ("b_admin", "DELETE", f"/tokens/{w.a_token}", {}),
}  # fmt: skip


@pytest.mark.parametrize("case", HIDDEN)
def test_b_gets_404_for_a_records(world: SimpleNamespace, case: str) -> None:
    if not hasattr(world, "b_case"):
        world.b_case = world.api.case(world.b_requester)
    who, method, path, kwargs = HIDDEN[case](world)
    assert_error(world.api.call(method, path, getattr(world, who), **kwargs), 404)
    request = world.api.ok("GET", f"/requests/{world.request}", world.a_admin)
    assert (request["status"], request["approval"]) == ("searched", "approved")  # untouched


def test_b_lists_show_nothing_of_a(world: SimpleNamespace) -> None:
    api = world.api
    assert api.ok("GET", "/galleries", world.b_admin) == {"data": [], "count": 0}
    assert api.ok("GET", "/searches", world.b_admin) == {"data": [], "count": 0}
    assert world.request not in [r["id"] for r in api.ok("GET", "/requests", world.b_requester)["data"]]
    assert world.case not in [c["id"] for c in api.ok("GET", "/cases", world.b_requester)["data"]]
    assert {e["agency_id"] for e in api.events(world.b_admin, limit=1000)} == {world.b_agency}
    users = [u["username"] for u in api.ok("GET", "/users", world.b_admin)["data"]]
    assert users == ["b-admin", "b-requester", "b-examiner", "b-supervisor"]
    agencies = api.ok("GET", "/agencies", world.b_admin)["data"]
    assert agencies == [{"id": world.b_agency, "name": "County Sheriff", "operator": False}]
    me = api.ok("GET", "/me", world.b_examiner)
    assert me["agency"]["id"] == world.b_agency and me["operator"] is False


def test_a_is_untouched_by_b(world: SimpleNamespace) -> None:
    api = world.api
    gallery = api.ok("GET", f"/galleries/{world.gallery}", world.a_admin)
    assert (gallery["subjects"], gallery["templates"]) == (2, 3)
    assert api.ok("GET", "/me", world.a_examiner)["username"] == "a-examiner"
    assert api.ok("GET", f"/subjects/{world.subject}", world.a_admin)["templates"] == 2


def test_shared_gallery_may_be_searched_not_changed(world: SimpleNamespace) -> None:
    api, gallery = world.api, world.gallery
    shared = api.ok("POST", f"/galleries/{gallery}/shares", world.a_admin, json={"agency_id": world.b_agency})
    assert shared["shared_with"] == [world.b_agency]
    try:
        listed = api.ok("GET", "/galleries", world.b_admin)["data"]
        assert [(g["id"], g["owned"], g["shared_with"]) for g in listed] == [(gallery, False, [])]
        assert api.ok("GET", f"/galleries/{gallery}", world.b_examiner)["templates"] == 3
        assert api.subjects(world.b_examiner, gallery)["Aaron_Peirsol"] == world.subject
        assert_error(api.call("GET", f"/galleries/{gallery}/subjects", world.b_admin), 403)  # not the unit

        b_request = api.approved(world.b_requester, world.b_supervisor, world.photo, [gallery])
        found = api.search(world.b_examiner, b_request)
        assert found.status_code == 201, found.text
        assert found.json()["candidates"][0]["subject_id"] == world.subject
        b_search = found.json()["id"]

        assert_error(api.enrol(world.b_admin, gallery, "intruder", world.photo), 403, "shared")
        assert_error(api.enrol(world.b_examiner, gallery, "intruder", world.photo), 403, "shared")
        assert_error(api.call("DELETE", f"/subjects/{world.subject}", world.b_admin), 403, "shared")
        again = {"json": {"agency_id": world.b_agency}}
        assert_error(api.call("POST", f"/galleries/{gallery}/shares", world.b_admin, **again), 403, "shared")
        assert_error(api.call("DELETE", f"/galleries/{gallery}/shares/{world.b_agency}", world.b_admin), 403)
        assert_error(api.call("POST", f"/galleries/{gallery}/index/rebuild", world.b_examiner), 403)

        # searches stay with the agency that ran them, whoever owns the gallery
        assert_error(api.call("GET", f"/searches/{world.search}", world.b_admin), 404)
        assert [s["id"] for s in api.ok("GET", "/searches", world.b_admin)["data"]] == [b_search]
        assert_error(api.call("GET", f"/searches/{b_search}", world.a_admin), 404)
        assert world.search in [s["id"] for s in api.ok("GET", "/searches", world.a_admin)["data"]]
        assert b_search not in [s["id"] for s in api.ok("GET", "/searches", world.a_admin)["data"]]
    finally:
        api.ok("DELETE", f"/galleries/{gallery}/shares/{world.b_agency}", world.a_admin)
    assert_error(api.call("GET", f"/galleries/{gallery}", world.b_admin), 404)
    assert_error(api.search(world.b_examiner, b_request), 404, "gallery")
    assert api.ok("GET", f"/galleries/{gallery}", world.a_admin)["templates"] == 3
