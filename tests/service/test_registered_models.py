"""An operator's own ONNX template model: registered from a card (`facedocket model add`),
copied into the data directory with its checksum checked, recorded and audited, loaded at
every service start, and calibrated on the operator's data (`facedocket calibrate`), after
which policy floors and estimates resolve through its card. No such model ships: the tests
register SFace's own file under a second card with another model id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from model_cards import MODEL, write_card
from sqlalchemy import select

from facedocket.errors import ConfigurationError, Conflict, Forbidden, InvalidInput, NotFound
from facedocket.service import Service
from facedocket.store.tables import EvaluationRun, RegisteredModel, TemplateRow
from facedocket.vision import models
from facedocket.vision.models import DEFAULT_MODEL_ID, threshold_at_fmr

from .conftest import ServiceFactory
from .support import DEV, World, items_for, probe, row_counts, run_search, second_agency

PEOPLE = {"Amelia_Vega": [1, 2], "Abdullah_Gul": [1, 2]}
CALIBRATION_IDENTITIES = 16
"""The first 16 development identities: 60 photos, 1,659 impostor pairs, enough to measure
a false-match rate of 1e-3."""


@pytest.fixture(autouse=True)
def _forget_registered_cards() -> Iterator[None]:
    """The process's card registry is shared by every test: leave it as found."""
    yield
    models.unregister_card(MODEL)


def test_registering_copies_checks_records_and_audits(world: World, tmp_path: Path) -> None:
    service, admin = world.service, world.admin
    info = service.models.add_model(admin, write_card(tmp_path))
    assert (info.model_id, info.shipped, info.calibration, info.galleries) == (MODEL, False, None, 0)
    folder = service.settings.home / "models" / MODEL
    assert sorted(p.name for p in folder.iterdir()) == ["card.json", "face_recognition_sface_2021dec.onnx"]
    assert models.file_sha256(folder / "face_recognition_sface_2021dec.onnx") == info.sha256
    card = json.loads((folder / "card.json").read_text())
    assert card["file"] == "face_recognition_sface_2021dec.onnx" and "path" not in card
    (event,) = [e.as_dict() for e in service.audit.list_audit(admin, action="model.registered")]
    assert (event["object_id"], event["details"]["sha256"]) == (MODEL, info.sha256)
    assert MODEL in [m.model_id for m in service.models.list_models(world.examiner)]
    with pytest.raises(Conflict, match="registered already"):
        service.models.add_model(admin, write_card(tmp_path))


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_a_card_that_does_not_fit_registers_nothing(world: World, tmp_path: Path) -> None:
    service, admin = world.service, world.admin
    with pytest.raises(ConfigurationError, match="SHA-256"):
        service.models.add_model(admin, write_card(tmp_path, sha256="0" * 64))
    with pytest.raises(Conflict, match="shipped model"):
        service.models.add_model(admin, write_card(tmp_path / "2", model_id=DEFAULT_MODEL_ID))
    with pytest.raises(InvalidInput, match="model id 'Agency Model'"):
        service.models.add_model(admin, write_card(tmp_path / "3", model_id="Agency Model"))
    for actor in (world.examiner, world.operator.supervisor, second_agency(world).admin):
        with pytest.raises(Forbidden):
            service.models.add_model(actor, write_card(tmp_path / "4"))
    assert row_counts(service, RegisteredModel)["registered_model"] == 0
    folder = service.settings.home / "models"
    assert not folder.exists() or not any(folder.iterdir())
    assert not service.audit.list_audit(admin, action="model.registered")


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_calibration_on_the_operators_data_makes_its_galleries_searchable(
    service_factory: ServiceFactory, world: World, tmp_path: Path
) -> None:
    service, admin = world.service, world.admin
    service.models.add_model(admin, write_card(tmp_path))
    gallery = service.galleries.create_gallery(admin, "own", "booking photos", "criminal investigations",
                                               model_id=MODEL)  # fmt: skip
    assert service.enrolment.enroll(world.examiner, gallery.id, items_for(PEOPLE)).counts["enrolled"] == 4
    with service.sessions() as session:
        assert set(session.scalars(select(TemplateRow.model_id).where(TemplateRow.gallery_id == gallery.id))) == {MODEL}
    # not calibrated: its threshold and the policy's floor cannot be resolved
    with pytest.raises(ConfigurationError, match="calibrate"):
        run_search(service, world.operator, probe("Amelia_Vega"), [gallery.id])
    with pytest.raises(InvalidInput, match="shipped model"):
        service.models.calibrate(admin, DEFAULT_MODEL_ID, DEV)
    with pytest.raises(Forbidden):
        service.models.calibrate(world.operator.supervisor, MODEL, DEV)
    info = service.models.calibrate(admin, MODEL, DEV, max_identities=CALIBRATION_IDENTITIES, max_impostor_pairs=2000)
    calibration = info.calibration
    assert calibration is not None and calibration["target_fmr"] == 0.001
    assert calibration["impostor_pairs"] == 1659 and "60 photos of 16 people" in calibration["data"]
    assert [row["fmr"] for row in calibration["fmr_table"]] == [0.1, 0.03, 0.01, 0.003, 0.001]
    assert threshold_at_fmr(MODEL, 1e-3) == calibration["threshold"]
    (event,) = [e.as_dict() for e in service.audit.list_audit(admin, action="model.calibrated")]
    assert event["details"]["threshold"] == calibration["threshold"]
    assert row_counts(service, EvaluationRun)["evaluation_run"] == 1
    result = run_search(service, world.operator, probe("Amelia_Vega"), [gallery.id])
    assert (result.model_id, result.threshold) == (MODEL, max(calibration["threshold"], threshold_at_fmr(MODEL, 1e-3)))
    assert result.candidates[0].subject_reference == "Amelia_Vega"
    assert result.candidates[0].expected_false is not None
    # another process (a restart): the model is loaded from the data directory and the database
    models.unregister_card(MODEL)
    restarted: Service = service_factory()
    assert models.model_card(MODEL).calibration == models.Calibration(**calibration)
    again = run_search(restarted, world.operator, probe("Amelia_Vega"), [gallery.id])
    assert [c.subject_reference for c in again.candidates] == [c.subject_reference for c in result.candidates]


@pytest.mark.parametrize("db_kind", ["sqlite"])
def test_a_damaged_weights_file_stops_only_its_own_model(
    service_factory: ServiceFactory, world: World, tmp_path: Path
) -> None:
    service, admin = world.service, world.admin
    service.models.add_model(admin, write_card(tmp_path))
    weights = service.settings.home / "models" / MODEL / "face_recognition_sface_2021dec.onnx"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    models.unregister_card(MODEL)
    restarted = service_factory()  # starts; the damaged model is reported, not fatal
    (info,) = [m for m in restarted.models.list_models(admin) if m.model_id == MODEL]
    assert "SHA-256" in info.problem
    with pytest.raises(ConfigurationError, match="SHA-256"):
        restarted.galleries.create_gallery(admin, "own", "photos", "investigations", model_id=MODEL)
    assert restarted.galleries.create_gallery(admin, "other", "photos", "investigations").model_id == DEFAULT_MODEL_ID
    with pytest.raises(NotFound):
        restarted.models.get_model(admin, "no-such-model")
