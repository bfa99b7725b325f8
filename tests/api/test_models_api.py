"""Template models over the API: a gallery's model_id, GET /models, the calibration route of
an operator's model, and a search over galleries of two models with a threshold per model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from facedocket.vision.models import DEFAULT_MODEL_ID, TEMPLATE_MODEL_ID, default_threshold

from .helpers import Api, assert_error

PEOPLE = {"Amelia_Vega": [1, 2], "Abdullah_Gul": [1, 2]}


@pytest.fixture(scope="module")
def world(make_api: Callable[..., Api], photo: Callable[[str, int], Path]) -> SimpleNamespace:
    api = make_api()
    staff = api.staff(api.operator, "sp")
    body = {"name": "booking", "source": "booking photos", "purpose": "criminal investigations"}
    new = api.ok("POST", "/galleries", api.operator, 201, json=body)
    old = api.ok("POST", "/galleries", api.operator, 201, json=body | {"name": "old", "model_id": TEMPLATE_MODEL_ID})
    for gallery in (new["id"], old["id"]):
        for person, numbers in PEOPLE.items():
            for n in numbers:
                assert api.enrol(api.operator, gallery, person, photo(person, n)).status_code == 201
    return SimpleNamespace(api=api, staff=staff, new=new, old=old, photo=photo)


def test_galleries_record_their_model(world: SimpleNamespace) -> None:
    assert (world.new["model_id"], world.old["model_id"]) == (DEFAULT_MODEL_ID, TEMPLATE_MODEL_ID)
    body = {"name": "x", "source": "s", "purpose": "p", "model_id": "arcface-r100"}
    assert_error(world.api.call("POST", "/galleries", world.api.operator, json=body), 400, "no template model")


def test_models_are_listed_with_their_calibration(world: SimpleNamespace) -> None:
    api = world.api
    listed = api.ok("GET", "/models", world.staff["examiner"])
    found = {m["model_id"]: m for m in listed["data"]}
    assert set(found) == {DEFAULT_MODEL_ID, TEMPLATE_MODEL_ID} and listed["count"] == 2
    assert (found[DEFAULT_MODEL_ID]["galleries"], found[TEMPLATE_MODEL_ID]["galleries"]) == (1, 1)
    assert found[DEFAULT_MODEL_ID]["calibration"]["threshold"] == default_threshold(DEFAULT_MODEL_ID)
    assert api.ok("GET", f"/models/{TEMPLATE_MODEL_ID}", world.staff["auditor"])["shipped"] is True
    assert_error(api.call("GET", "/models/nope", world.staff["auditor"]), 404, "no template model")
    calibration = {"dataset": "missing"}
    assert_error(api.call("POST", f"/models/{DEFAULT_MODEL_ID}/calibration", world.staff["supervisor"],
                          json=calibration), 403)  # fmt: skip
    assert_error(api.call("POST", f"/models/{DEFAULT_MODEL_ID}/calibration", api.operator, json=calibration), 404)
    (api.settings.resolved_evaluation_dir() / "held").mkdir(parents=True)
    shipped = api.call("POST", f"/models/{DEFAULT_MODEL_ID}/calibration", api.operator, json={"dataset": "held"})
    assert_error(shipped, 400, "is a shipped model")  # its card's calibration comes with FaceDocket


def test_a_search_over_two_models_takes_a_threshold_per_model(world: SimpleNamespace) -> None:
    api, staff = world.api, world.staff
    request = api.approved(staff["requester"], staff["supervisor"], world.photo("Amelia_Vega", 7),
                           [world.new["id"], world.old["id"]])  # fmt: skip
    path = f"/requests/{request}/searches"
    assert_error(api.call("POST", path, staff["examiner"], json={"threshold": 0.5}), 400, "give a threshold per model")
    assert_error(api.call("POST", path, staff["examiner"], json={"threshold": 0.5, "thresholds": {}}), 422)
    result = api.ok("POST", path, staff["examiner"], 201, json={"thresholds": {DEFAULT_MODEL_ID: 0.99}})
    assert [(m["model_id"], m["threshold"]) for m in result["models"]] == [
        (DEFAULT_MODEL_ID, 0.99), (TEMPLATE_MODEL_ID, default_threshold(TEMPLATE_MODEL_ID))
    ]  # fmt: skip
    assert [(c["subject_reference"], c["model_id"]) for c in result["candidates"]] == [
        ("Amelia_Vega", TEMPLATE_MODEL_ID)
    ]
    both = api.ok("POST", path, staff["examiner"], 201)
    assert {(c["subject_reference"], c["model_id"]) for c in both["candidates"]} == {
        ("Amelia_Vega", TEMPLATE_MODEL_ID), ("Amelia_Vega", DEFAULT_MODEL_ID)
    }  # fmt: skip
