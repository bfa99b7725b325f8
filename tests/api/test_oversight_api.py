"""Oversight through the API: legal holds, erasure and its certificate, the access export,
retention (asked for, dry, and on the server's schedule), consent, evaluations on record and
calibration; another agency gets 404s, the wrong role 403s, every error in the one shape."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import BaseModel

from facedocket.api import create_app
from facedocket.api.routes import oversight as routes
from facedocket.crypto import derive_key
from facedocket.oversight import evaluation
from facedocket.vision.models import DEFAULT_MODEL_ID, threshold_at_fmr
from facedocket.vision.pipeline import FacePipeline, PipelineOptions

from .helpers import TEST_POLICY, Api, assert_error

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

POLICY = TEST_POLICY + "[retention]\ncandidate_lists = 60\nlast_interaction_days = 1095\n"
ROLES = ("requester", "examiner", "supervisor", "auditor", "admin")


@pytest.fixture(scope="module")
def world(make_api: Callable[..., Api], photo: Callable[[str, int], Path]) -> SimpleNamespace:
    """The operator agency with every role, a booking gallery with two people (Gul: two
    photos, Brody: one), a case, and a second agency with its own admin."""
    api = make_api(policy=POLICY)
    staff = api.staff(api.operator, "sp")
    booking = api.gallery(api.operator, "booking")
    for reference, number in (("Abdullah_Gul", 1), ("Abdullah_Gul", 2), ("Adrien_Brody", 1)):
        assert api.enrol(api.operator, booking, reference, photo(reference, number)).status_code == 201
    other_agency, other_admin = api.agency("Transit Police", "t-admin")
    return SimpleNamespace(
        api=api,
        photo=photo,
        booking=booking,
        subjects=api.subjects(api.operator, booking),
        case=api.case(staff["requester"]),
        other_agency=other_agency,
        other_admin=other_admin,
        **staff,
    )


@pytest.fixture(scope="module")
def result(dev_dir: Path) -> dict[str, Any]:
    """A real evaluation result of 8 identities of the dev set (the fast pipeline, with the
    default model of new galleries), as `facedocket evaluate --json --model sface-2021dec` gives it."""
    extracted = evaluation.extract(
        FacePipeline(PipelineOptions(jitter=False, model=DEFAULT_MODEL_ID)),
        evaluation.list_identities(dev_dir, max_identities=8),
    )
    evaluated: dict[str, Any] = evaluation.evaluate(extracted, max_impostor_pairs=2000)
    return evaluated | {"fingerprint": evaluation.fingerprint(dev_dir, extracted.paths)}


def _templates(world: SimpleNamespace, gallery: int) -> int:
    count: int = world.api.ok("GET", f"/galleries/{gallery}", world.admin)["templates"]
    return count


def test_a_hold_refuses_erasure_until_released_and_erasure_answers_a_certificate(world: SimpleNamespace) -> None:
    api, brody = world.api, world.subjects["Adrien_Brody"]
    body = {"object_type": "subject", "object_id": brody, "reason": "appeal 26-CV-881"}
    hold = api.ok("POST", "/holds", world.supervisor, 201, json=body)
    assert (hold["object_type"], hold["object_id"], hold["released"], hold["reason"]) == (
        "subject", brody, None, "appeal 26-CV-881",
    )  # fmt: skip
    assert hold["placed"].endswith("Z") or hold["placed"].endswith("+00:00")
    assert [h["id"] for h in api.ok("GET", "/holds", world.auditor)["data"]] == [hold["id"]]

    reason = {"reason": "erasure request of 2026-11-01"}
    assert_error(api.call("POST", f"/subjects/{brody}/erase", world.admin, json=reason), 409, "legal hold")
    assert api.ok("GET", f"/subjects/{brody}", world.admin)["templates"] == 1

    released = api.ok("POST", f"/holds/{hold['id']}/release", world.supervisor)
    assert released["released"] is not None
    assert_error(api.call("POST", f"/holds/{hold['id']}/release", world.supervisor), 409, "released already")
    assert api.ok("GET", "/holds", world.admin) == {"data": [], "count": 0}
    assert api.ok("GET", "/holds", world.admin, params={"include_released": "true"})["count"] == 1

    certificate = api.ok("POST", f"/subjects/{brody}/erase", world.supervisor, json=reason)
    assert certificate["certificate"] == "erasure" and certificate["subject_reference"] == "Adrien_Brody"
    assert certificate["erased"] == {"templates": 1, "candidate_entries": 0, "verifications_unlinked": 0,
                                     "consents": 0, "photos": 2}  # fmt: skip
    assert [p["kind"] for p in certificate["photos"]] == ["enrolment-source", "enrolment-crop"]
    assert certificate["erased_by"] == "sp-supervisor"
    (event,) = api.events(world.auditor, action="subject.erased")
    assert certificate["audit_event"] == {"seq": event["seq"], "hash": event["hash"]}
    assert "Adrien_Brody" not in str(event)
    # issue 11: a keyed hash, never the unsalted SHA-256 a list of names could confirm
    unsalted = hashlib.sha256(b"Adrien_Brody").hexdigest()
    assert unsalted not in json.dumps(event) and unsalted not in json.dumps(certificate)
    key = derive_key(api.settings.session_secret(), "erasure-reference")
    expected = hmac.new(key, b"Adrien_Brody", hashlib.sha256).hexdigest()
    assert event["details"]["reference_hmac"] == certificate["reference_hmac"] == expected
    assert_error(api.call("GET", f"/subjects/{brody}", world.admin), 404, "no subject")
    assert_error(api.call("POST", f"/subjects/{brody}/erase", world.admin, json=reason), 404, "no subject")


def test_the_access_export_holds_everything_and_is_not_cached(world: SimpleNamespace) -> None:
    gul = world.subjects["Abdullah_Gul"]
    response = world.api.call("GET", f"/subjects/{gul}/export", world.auditor)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    record = response.json()
    assert record["subject"]["reference"] == "Abdullah_Gul" and record["subject"]["gallery"] == "booking"
    assert len(record["templates"]) == 2 and all(len(t["vector"]) == 128 for t in record["templates"])
    assert record["images_held"] == 4 and record["legal_holds"] == [] and record["consents"] == []
    assert {p["kind"] for p in record["photos"]} == {"enrolment-source", "enrolment-crop"}
    assert "4 are kept of this subject" in record["note"]
    exported = world.api.events(world.auditor, action="subject.exported")
    assert str(gul) in [e["object_id"] for e in exported]


def test_another_agency_gets_404_for_our_records(world: SimpleNamespace) -> None:
    api, other, gul = world.api, world.other_admin, world.subjects["Abdullah_Gul"]
    hold = api.ok("POST", "/holds", world.admin, 201, json={"object_type": "case", "object_id": world.case,
                                                            "reason": "subpoena"})  # fmt: skip
    run = api.ok("POST", "/evaluations", world.auditor, 201, json={"model": "m", "detector": "d", "verification": {}})
    try:
        calls = [
            ("POST", f"/subjects/{gul}/erase", {"reason": "x"}, "no subject"),
            ("GET", f"/subjects/{gul}/export", None, "no subject"),
            ("POST", "/holds", {"object_type": "subject", "object_id": gul, "reason": "x"}, "no subject"),
            ("POST", "/holds", {"object_type": "case", "object_id": world.case, "reason": "x"}, "no case"),
            ("POST", f"/holds/{hold['id']}/release", None, "no legal hold"),
            ("POST", f"/subjects/{gul}/consents", {"given_by": "x", "purpose": "y"}, "no subject"),
            ("POST", f"/subjects/{gul}/consents/withdraw", None, "no subject"),
            ("PUT", f"/galleries/{world.booking}/consent", {"required": True}, "no gallery"),
            ("PUT", f"/galleries/{world.booking}/retention", {"days": 1}, "no gallery"),
            ("POST", "/subjects", {"gallery_id": world.booking, "reference": "x"}, "no gallery"),
            ("GET", f"/evaluations/{run['id']}", None, "no evaluation run"),
            ("POST", f"/evaluations/{run['id']}/calibrate", {"target_fmr": 0.01}, "no evaluation run"),
        ]
        for method, path, body, fragment in calls:
            assert_error(api.call(method, path, other, json=body), 404, fragment)
        assert api.ok("GET", "/holds", other)["count"] == 0
        assert all(r["id"] != run["id"] for r in api.ok("GET", "/evaluations", other)["data"])
    finally:
        api.ok("POST", f"/holds/{hold['id']}/release", world.admin)
    assert api.ok("GET", f"/subjects/{gul}", world.admin)["templates"] == 2


# (method, path, body, roles the service allows): every other role gets a 403 naming it.
GUARDED: list[tuple[str, str, dict[str, Any] | None, tuple[str, ...]]] = [
    ("POST", "/holds", {"object_type": "subject", "object_id": 1, "reason": "x"}, ("supervisor", "admin")),
    ("POST", "/holds/1/release", None, ("supervisor", "admin")),
    ("GET", "/holds", None, ("supervisor", "admin", "auditor")),
    ("POST", "/retention/run", {"dry_run": True}, ("admin",)),
    ("POST", "/subjects/1/erase", {"reason": "x"}, ("supervisor", "admin")),
    ("GET", "/subjects/1/export", None, ("supervisor", "admin", "auditor")),
    ("POST", "/subjects", {"gallery_id": 1, "reference": "x"}, ("examiner", "supervisor", "admin")),
    ("POST", "/subjects/1/consents", {"given_by": "x", "purpose": "y"}, ("examiner", "supervisor", "admin")),
    ("POST", "/subjects/1/consents/withdraw", None, ("examiner", "supervisor", "admin")),
    ("PUT", "/galleries/1/consent", {"required": True}, ("supervisor", "admin")),
    ("PUT", "/galleries/1/retention", {"days": 1}, ("supervisor", "admin")),
    ("POST", "/evaluations", {"model": "m", "detector": "d", "verification": {}}, ("auditor", "supervisor", "admin")),
    ("GET", "/evaluations", None, ("auditor", "supervisor", "admin")),
    ("GET", "/evaluations/1", None, ("auditor", "supervisor", "admin")),
    ("POST", "/evaluations/1/calibrate", {"target_fmr": 0.01}, ("admin",)),
]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), GUARDED, ids=[f"{m} {p}" for m, p, _, _ in GUARDED])
def test_roles_the_service_refuses_get_403(
    world: SimpleNamespace, method: str, path: str, body: dict[str, Any] | None, allowed: tuple[str, ...]
) -> None:
    for role in ROLES:
        if role not in allowed:
            assert_error(world.api.call(method, path, getattr(world, role), json=body), 403, role)


def test_retention_dry_run_then_the_scheduled_job_deletes_what_is_due(world: SimpleNamespace) -> None:
    api = world.api
    short = api.gallery(world.admin, "short-lived")
    for reference in ("Abdullah_Gul", "Adrien_Brody"):
        assert api.enrol(world.admin, short, reference, world.photo(reference, 3)).status_code == 201
    kept = api.subjects(world.admin, short)["Abdullah_Gul"]
    assert api.ok("PUT", f"/galleries/{short}/retention", world.supervisor, json={"days": 0}) == {
        "gallery_id": short, "retention_days": 0,
    }  # fmt: skip
    hold = api.ok("POST", "/holds", world.supervisor, 201, json={"object_type": "subject", "object_id": kept,
                                                                 "reason": "inquest"})  # fmt: skip
    kept_templates = [t["id"] for t in api.ok("GET", f"/subjects/{kept}/export", world.admin)["templates"]]

    dry = api.ok("POST", "/retention/run", world.admin, json={"dry_run": True})
    assert dry["dry_run"] is True and dry["held"]["templates"] == kept_templates
    assert dry["counts"]["templates"] == 1 and len(dry["deleted"]["templates"]) == 1
    assert _templates(world, short) == 2  # a dry run changes nothing

    # the app as `facedocket serve` runs it, with the retention job every 0.05 s
    app = create_app(api.settings.model_copy(update={"retention_interval_s": 0.05}), api.service)
    with TestClient(app):  # runs the lifespan: the jobs start, and stop on the way out
        assert "facedocket-retention" in [t.name for t in threading.enumerate()]
        deadline = time.monotonic() + 30
        while _templates(world, short) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not [t for t in threading.enumerate() if t.name == "facedocket-retention"]
    assert _templates(world, short) == 1
    purged = api.events(world.auditor, action="retention.purged")
    assert purged[0]["actor"] == "system" and purged[0]["agency_id"] == 1
    assert (purged[0]["details"]["record_type"], purged[0]["details"]["count"]) == ("templates", 1)
    api.ok("POST", f"/holds/{hold['id']}/release", world.supervisor)
    assert api.ok("PUT", f"/galleries/{short}/retention", world.admin, json={"days": None})["retention_days"] is None
    after = api.ok("POST", "/retention/run", world.admin)  # no body: a real run; the policy keeps templates
    assert after["dry_run"] is False and not after["deleted"].get("templates")
    assert _templates(world, short) == 1


def test_a_consent_gallery_refuses_enrolment_until_consent_is_recorded(world: SimpleNamespace) -> None:
    api = world.api
    loyalty = api.gallery(world.admin, "loyalty")
    assert api.ok("PUT", f"/galleries/{loyalty}/consent", world.supervisor, json={"required": True}) == {
        "gallery_id": loyalty, "requires_consent": True,
    }  # fmt: skip
    refused = assert_error(api.enrol(world.examiner, loyalty, "Abel_Pacheco", world.photo("Abel_Pacheco", 1)), 422)
    assert refused["errors"][0]["outcome"] == "no-consent"

    body = {"gallery_id": loyalty, "reference": "Abel_Pacheco", "sex": "M", "birth_year": 1955}
    subject = api.ok("POST", "/subjects", world.examiner, 201, json=body)
    assert (subject["reference"], subject["templates"], subject["sex"]) == ("Abel_Pacheco", 0, "M")
    assert_error(api.call("POST", "/subjects", world.examiner, json=body), 409, "exists")
    consents = f"/subjects/{subject['id']}/consents"
    backwards = {"given_by": "x", "purpose": "y", "given": "2026-01-02", "expires": "2026-01-01T00:00:00Z"}
    assert_error(api.call("POST", consents, world.examiner, json=backwards), 400, "expire after")
    assert_error(api.call("POST", consents, world.examiner, json={"given_by": "x", "given": "soon"}), 422)
    consent = api.ok("POST", consents, world.examiner, 201,
                     json={"given_by": "Abel Pacheco (form 17)", "purpose": "store check-in",
                           "expires": "2099-12-31T00:00:00"})  # fmt: skip
    assert consent["subject_id"] == subject["id"] and consent["expires"].startswith("2099-12-31T00:00:00")

    enrolled = api.enrol(world.examiner, loyalty, "Abel_Pacheco", world.photo("Abel_Pacheco", 1))
    assert enrolled.status_code == 201, enrolled.text
    withdrawn = api.ok("POST", f"{consents}/withdraw", world.examiner)
    assert withdrawn == {"subject_id": subject["id"], "withdrawn": 1}
    run = api.ok("POST", "/retention/run", world.admin, json={"dry_run": False})
    assert subject["id"] in run["deleted"]["subjects"]
    assert_error(api.call("GET", f"/subjects/{subject['id']}", world.admin), 404, "no subject")
    api.ok("PUT", f"/galleries/{loyalty}/consent", world.admin, json={"required": False})


def test_evaluations_on_record_set_the_search_threshold(world: SimpleNamespace, result: dict[str, Any]) -> None:
    api = world.api
    saved = api.ok("POST", "/evaluations", world.auditor, 201, json=result)
    assert (saved["model"], saved["detector"]) == (result["model"], result["detector"])
    assert saved["fingerprint"] == result["fingerprint"]["sha256"]
    listed = api.ok("GET", "/evaluations", world.supervisor)
    assert saved in listed["data"] and listed["count"] == len(listed["data"])
    shown = api.ok("GET", f"/evaluations/{saved['id']}", world.auditor)
    assert shown["verification"] == result["verification"] and shown["identification"] == result["identification"]

    measured = {row["fmr"]: row["threshold"] for row in result["verification"]["fmr_table"]}
    calibrate = f"/evaluations/{saved['id']}/calibrate"
    assert_error(api.call("POST", calibrate, world.admin, json={"target_fmr": 0.0001}), 400, "pick one it measured")
    assert_error(api.call("POST", calibrate, world.admin, json={"target_fmr": 2}), 422, "target_fmr")
    body = {"target_fmr": 0.01, "gallery_id": world.booking}
    calibrated = api.ok("POST", calibrate, world.admin, json=body)
    assert calibrated == {"evaluation_run_id": saved["id"], "target_fmr": 0.01, "gallery_id": world.booking,
                          "threshold": measured[0.01]}  # fmt: skip
    request = api.approved(world.requester, world.supervisor, world.photo("Abdullah_Gul", 3), [world.booking])
    search = api.search(world.examiner, request)
    assert search.status_code == 201, search.text
    # the default is the calibrated threshold, never looser than the policy's floor (FMR 1e-3)
    assert search.json()["threshold"] == max(measured[0.01], threshold_at_fmr(DEFAULT_MODEL_ID, 1e-3))
    assert_error(api.call("POST", "/evaluations", world.auditor, json={"model": "m"}), 422, "detector")


def test_bad_input_is_in_the_error_shape(world: SimpleNamespace) -> None:
    api = world.api
    assert_error(api.call("POST", "/holds", world.admin, json={"object_type": "gallery", "object_id": 1,
                                                               "reason": "x"}), 422, "object_type")  # fmt: skip
    blank = {"object_type": "case", "object_id": world.case, "reason": " "}
    assert_error(api.call("POST", "/holds", world.admin, json=blank), 400, "reason")
    assert_error(api.call("PUT", f"/galleries/{world.booking}/retention", world.admin, json={"days": -1}), 422, "days")
    assert_error(api.call("POST", "/subjects/1/erase", world.admin, json={}), 422, "reason")
    assert_error(api.call("POST", "/subjects/1/erase", world.admin, json={"reason": ""}), 400, "reason")
    assert_error(api.call("POST", "/holds/999/release", world.admin), 404, "no legal hold 999")
    assert_error(api.call("DELETE", "/holds", world.admin), 405)
    assert_error(api.call("POST", "/retention/run"), 401)


def test_openapi_describes_the_oversight_endpoints(world: SimpleNamespace) -> None:
    schema = world.api.client.get("/openapi.json").json()
    ours = {
        "/holds": {"get", "post"},
        "/holds/{hold_id}/release": {"post"},
        "/retention/run": {"post"},
        "/subjects": {"post"},
        "/subjects/{subject_id}/erase": {"post"},
        "/subjects/{subject_id}/export": {"get"},
        "/subjects/{subject_id}/consents": {"post"},
        "/subjects/{subject_id}/consents/withdraw": {"post"},
        "/galleries/{gallery_id}/consent": {"put"},
        "/galleries/{gallery_id}/retention": {"put"},
        "/evaluations": {"get", "post"},
        "/evaluations/{run_id}": {"get"},
        "/evaluations/{run_id}/calibrate": {"post"},
    }
    paths = schema["paths"]
    for path, methods in ours.items():
        assert set(paths[f"/api/v1{path}"]) == methods, path
        for method in methods:
            operation = paths[f"/api/v1{path}"][method]
            assert operation["tags"] and operation["description"], (method, path)
            assert operation["security"] == [{"token": []}]
            for status in ("401", "403", "422"):
                error = operation["responses"][status]["content"]["application/json"]["schema"]
                assert error == {"$ref": "#/components/schemas/ErrorPublic"}
    assert {"oversight", "evaluations"} <= {t["name"] for t in schema["tags"]}
    bodies = {name for name, value in vars(routes).items() if isinstance(value, type) and issubclass(value, BaseModel)}
    assert {"HoldPublic", "ErasureCertificatePublic", "SubjectExportPublic"} <= bodies
    for name in bodies - {"BaseModel"}:
        for field, spec in schema["components"]["schemas"][name]["properties"].items():
            assert spec.get("description"), (name, field)


def test_an_evaluation_runs_on_a_data_set_the_server_holds(world: SimpleNamespace, dev_dir: Path) -> None:
    """POST /evaluations/run is the same use case as `facedocket evaluate`: it measures a data
    set under the evaluation data directory (named, never a path) and keeps it on record."""
    api = world.api
    root = api.settings.resolved_evaluation_dir() / "lfw-sample"
    root.mkdir(parents=True, exist_ok=True)
    for person in sorted(p.name for p in dev_dir.iterdir())[:6]:
        (root / person).symlink_to(dev_dir / person, target_is_directory=True)
    body = {"dataset": "lfw-sample", "max_impostor_pairs": 500, "bootstrap": 50}
    assert_error(api.call("POST", "/evaluations/run", world.requester, json=body), 403)
    assert_error(api.call("POST", "/evaluations/run", world.auditor, json={"dataset": "../etc"}), 400)
    assert_error(api.call("POST", "/evaluations/run", world.auditor, json={"dataset": "nothing-here"}), 404)
    ran = api.ok("POST", "/evaluations/run", world.auditor, 201, json=body)
    assert ran["run_id"] and ran["identities"] == 6 and ran["verification"]["genuine_pairs"] > 0
    saved = api.ok("GET", f"/evaluations/{ran['run_id']}", world.auditor)
    assert saved["verification"] == ran["verification"]
    assert ran["model"] == "dlib-resnet-v1"  # as `facedocket evaluate`; model_id picks another
    sface = api.ok(
        "POST", "/evaluations/run", world.auditor, 201, json=body | {"model_id": DEFAULT_MODEL_ID, "save": False}
    )
    assert (sface["model"], sface["run_id"], sface["identities"]) == (DEFAULT_MODEL_ID, None, 6)
    assert_error(api.call("POST", "/evaluations/run", world.auditor, json=body | {"model_id": "nope"}), 400, "nope")
