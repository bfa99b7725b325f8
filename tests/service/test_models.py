"""One template model per gallery: new galleries use the measured default (SFace), older
galleries keep dlib's; a search over galleries of both embeds the probe once per model,
compares only templates of one model, and thresholds and estimates are per model."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from facedocket.errors import InvalidInput, PolicyDenied
from facedocket.service import SearchResult
from facedocket.service.ranking import expected_false_candidates
from facedocket.store.tables import Gallery, Search, TemplateRow
from facedocket.vision.models import DEFAULT_MODEL_ID, TEMPLATE_MODEL_ID, default_threshold, fmr_at_score

from .support import World, items_for, probe, row_counts, run_search

PEOPLE = {"Amelia_Vega": [1, 2], "Abdullah_Gul": [1, 2]}


@pytest.fixture
def two_models(world: World) -> tuple[World, int, int]:
    """The world's gallery (the default model) and a gallery of dlib's model, the same
    people enrolled in each; returns (world, SFace gallery id, dlib gallery id)."""
    service = world.service
    legacy = service.galleries.create_gallery(world.admin, "legacy", "booking photos 2010-2019", "criminal "
                                              "investigations", model_id=TEMPLATE_MODEL_ID)  # fmt: skip
    for gallery_id in (world.gallery.id, legacy.id):
        report = service.enrolment.enroll(world.examiner, gallery_id, items_for(PEOPLE))
        assert report.counts["enrolled"] == 4
    return world, world.gallery.id, legacy.id


def test_new_galleries_use_the_default_model_and_templates_record_it(two_models: tuple[World, int, int]) -> None:
    world, sface, dlib = two_models
    service = world.service
    assert DEFAULT_MODEL_ID == "sface-2021dec"
    assert {g.id: g.model_id for g in service.galleries.list_galleries(world.admin)} == {
        sface: DEFAULT_MODEL_ID,
        dlib: TEMPLATE_MODEL_ID,
    }
    with service.sessions() as session:
        rows = session.execute(select(TemplateRow.gallery_id, TemplateRow.model_id, TemplateRow.vector)).all()
    assert {(g, m) for g, m, _ in rows} == {(sface, DEFAULT_MODEL_ID), (dlib, TEMPLATE_MODEL_ID)}
    assert all(len(v) == 128 * 4 for _, _, v in rows)
    created = service.audit.list_audit(world.admin, action="gallery.created")
    assert [e.as_dict()["details"]["model_id"] for e in reversed(created)] == [DEFAULT_MODEL_ID, TEMPLATE_MODEL_ID]
    for unknown in ("arcface-r100", "dlib-hog"):  # no such model; not a template model
        with pytest.raises(InvalidInput, match=f"no template model '{unknown}' here; choose one of: dlib-resnet-v1"):
            service.galleries.create_gallery(world.admin, "other", "photos", "investigations", model_id=unknown)
    assert row_counts(service, Gallery)["gallery"] == 2


def _probe_template(world: World, model_id: str) -> np.ndarray:
    pipeline = world.service.pipeline.for_model(model_id)
    return np.asarray(pipeline.template(pipeline.load(probe("Amelia_Vega"))).vector)


def _stored(world: World, template_id: int) -> np.ndarray:
    with world.service.sessions() as session:
        row = session.get(TemplateRow, template_id)
        assert row is not None
        return np.frombuffer(row.vector, dtype=np.float32)


def test_a_search_over_two_models_embeds_the_probe_once_per_model(two_models: tuple[World, int, int]) -> None:
    world, sface, dlib = two_models
    result = run_search(world.service, world.operator, probe("Amelia_Vega"), [sface, dlib])
    uses = {u.model_id: u for u in result.models}
    assert [u.model_id for u in result.models] == [DEFAULT_MODEL_ID, TEMPLATE_MODEL_ID]
    for model_id, gallery_id in ((DEFAULT_MODEL_ID, sface), (TEMPLATE_MODEL_ID, dlib)):
        assert uses[model_id].threshold == default_threshold(model_id, True)
        assert (uses[model_id].galleries, uses[model_id].gallery_size) == ([gallery_id], 4)
    assert (result.model_id, result.threshold, result.gallery_size) == (
        DEFAULT_MODEL_ID,
        uses[DEFAULT_MODEL_ID].threshold,
        8,
    )
    # Amelia is a subject of each gallery: one candidate per subject, each scored by its own model
    amelia = [c for c in result.candidates if c.subject_reference == "Amelia_Vega"]
    assert {(c.gallery_id, c.model_id) for c in amelia} == {(sface, DEFAULT_MODEL_ID), (dlib, TEMPLATE_MODEL_ID)}
    assert len({c.subject_id for c in result.candidates}) == len(result.candidates)
    for c in result.candidates:
        assert c.score >= uses[c.model_id].threshold
        assert c.template_id is not None
        # the score is the probe's template of the candidate's model against the stored one
        assert float(_probe_template(world, c.model_id) @ _stored(world, c.template_id)) == pytest.approx(
            c.score, abs=1e-5
        )
        assert c.expected_false == expected_false_candidates(c.model_id, c.score, 4)
    rates = [fmr_at_score(c.model_id, c.score) or 1.0 for c in result.candidates]
    assert rates == sorted(rates)  # ranked by the false-match rate each model gives its score
    (event,) = [e.as_dict() for e in world.service.audit.list_audit(world.admin, action="search.run")]
    assert set(event["details"]["models"]) == {DEFAULT_MODEL_ID, TEMPLATE_MODEL_ID}
    again = world.service.searches.get_search(world.examiner, result.id)
    assert again.models == result.models and again.candidates == result.candidates


def test_thresholds_are_per_model(two_models: tuple[World, int, int]) -> None:
    world, sface, dlib = two_models
    service, op = world.service, world.operator
    with pytest.raises(InvalidInput, match="different scales; give a threshold per model"):
        run_search(service, op, probe("Amelia_Vega"), [sface, dlib], threshold=0.5)
    with pytest.raises(InvalidInput, match="arcface-r100, which none of these galleries uses"):
        run_search(service, op, probe("Amelia_Vega"), [sface, dlib], threshold={"arcface-r100": 0.5})
    only_dlib = run_search(service, op, probe("Amelia_Vega"), [sface, dlib], threshold={DEFAULT_MODEL_ID: 0.99})
    assert {c.model_id for c in only_dlib.candidates} == {TEMPLATE_MODEL_ID}
    assert {u.model_id: u.threshold for u in only_dlib.models}[DEFAULT_MODEL_ID] == 0.99
    # a threshold below one model's floor (the policy's FMR as that model's card resolves it) is refused
    with pytest.raises(PolicyDenied, match=r"false-match rate 0\.001 for dlib-resnet-v1"):
        run_search(service, op, probe("Amelia_Vega"), [sface, dlib], threshold={TEMPLATE_MODEL_ID: 0.9})
    # the agency's calibration of one model moves that model's default only
    run_id = service.evaluation.save_evaluation(op.auditor, {
        "model": TEMPLATE_MODEL_ID, "detector": "retinaface",
        "verification": {"fmr_table": [{"fmr": 0.001, "threshold": 0.95, "fnmr": 0.2}]},
    })  # fmt: skip
    service.evaluation.calibrate(op.admin, run_id, 0.001)
    calibrated = run_search(service, op, probe("Amelia_Vega"), [sface, dlib])
    assert {u.model_id: u.threshold for u in calibrated.models} == {
        DEFAULT_MODEL_ID: default_threshold(DEFAULT_MODEL_ID, True),
        TEMPLATE_MODEL_ID: 0.95,
    }


def test_a_gallery_of_dlib_alone_is_searched_as_before(two_models: tuple[World, int, int]) -> None:
    world, _sface, dlib = two_models
    result: SearchResult = run_search(world.service, world.operator, probe("Amelia_Vega"), [dlib])
    assert (result.model_id, result.threshold) == (TEMPLATE_MODEL_ID, default_threshold(TEMPLATE_MODEL_ID, True))
    assert result.candidates[0].subject_reference == "Amelia_Vega"
    assert result.candidates[0].model_id == TEMPLATE_MODEL_ID
    with world.service.sessions() as session:
        row = session.get(Search, result.id)
        assert row is not None and row.models is not None and len(row.models) == 1
