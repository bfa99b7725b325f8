"""Thresholds and ranking per template model, for searches over galleries of several models.

A search embeds the probe once per template model of its galleries and compares it only
with templates of the same model. Scores of two models are on different scales, so each
model has its own threshold (:data:`Thresholds`: one score, a score per model, or the
defaults) and its own expected-false-candidate estimate, and a list that mixes models is
ranked by the false-match rate each model's card gives the score (:func:`ranking`),
which means the same for every model. :class:`ModelUse` records what each model did.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from facedocket.errors import InvalidInput
from facedocket.governance.permissions import Actor
from facedocket.governance.rules import Failure
from facedocket.store.queries import evaluations as calibration_queries
from facedocket.store.queries import searches as queries
from facedocket.store.tables import Gallery, Search
from facedocket.vision import models

Thresholds = float | Mapping[str, float] | None
"""A search's threshold: one score (galleries of one model), a score per model id, or None
(each model's default: the agency's calibration, else the card's; the policy's floor applies)."""


@dataclass(frozen=True)
class ModelUse:
    """How one template model took part in a search: its threshold, the galleries of that
    model searched, the templates compared, and the probe's quality as that model rates it."""

    model_id: str
    threshold: float
    galleries: list[int]
    gallery_size: int
    probe_quality: float


def expected_false_candidates(model_id: str, score: float, gallery_size: int) -> float | None:
    """How many false candidates a gallery of ``gallery_size`` templates is expected to yield
    at or above ``score``: gallery size × FMR(score), from the model's calibration."""
    fmr = models.fmr_at_score(model_id, score)
    return None if fmr is None else round(gallery_size * fmr, 4)


Hit = tuple[float, int, int, str]
"""(score, template id, gallery id, model id)"""


def uses_of(row: Search) -> list[ModelUse]:
    """The models a search used: as recorded, or (for a search made before galleries chose
    their model) its one model, threshold and size."""
    if row.models:
        return [ModelUse(str(u["model_id"]), float(u["threshold"]), [int(g) for g in u["galleries"]],
                         int(u["gallery_size"]), float(u["probe_quality"])) for u in row.models]  # fmt: skip
    return [ModelUse(row.model_id, row.threshold, [int(g) for g in row.galleries], row.gallery_size, row.probe_quality)]


def check_thresholds(threshold: Thresholds, model_ids: list[str]) -> None:
    """InvalidInput unless ``threshold`` fits galleries of ``model_ids``: finite scores, one
    score only for galleries of one model, a mapping only of their models."""
    if threshold is None:
        return
    if isinstance(threshold, Mapping):
        unknown = sorted(set(threshold) - set(model_ids))
        if unknown:
            raise InvalidInput(
                f"a threshold is given for {', '.join(unknown)}, which none of these galleries uses "
                f"(they use {', '.join(model_ids)})"
            )
        values: list[Any] = list(threshold.values())
    else:
        if len(model_ids) > 1:
            raise InvalidInput(
                f"these galleries hold templates of {len(model_ids)} models ({', '.join(model_ids)}), whose scores "
                "are on different scales; give a threshold per model (MODEL=SCORE) or none"
            )
        values = [threshold]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise InvalidInput("threshold must be a finite number")


def merged(failure_lists: Iterable[list[Failure]]) -> list[Failure]:
    """The failures of several checks (one per model), each once, in order."""
    return list(dict.fromkeys(f for failures in failure_lists for f in failures))


def calibrated(session: Session, actor: Actor, galleries: list[Gallery]) -> dict[str, float]:
    """Per model of these galleries: the newest threshold the actor's agency calibrated for
    its galleries (the strictest when they differ), else for the model; absent when none."""
    out: dict[str, float] = {}
    for model_id in dict.fromkeys(g.model_id for g in galleries):
        found = [calibration_queries.newest_threshold(session, actor.agency_id, model_id, g.id)
                 for g in galleries if g.model_id == model_id]  # fmt: skip
        per_gallery = [t for t in found if t is not None]
        value = max(per_gallery) if per_gallery else calibration_queries.newest_threshold(
            session, actor.agency_id, model_id, None)  # fmt: skip
        if value is not None:
            out[model_id] = value
    return out


def ranking(uses: list[ModelUse]) -> Callable[[Hit], tuple[float, ...]]:
    """The order of candidates: by score for one model; for several, by the false-match rate
    each model's card gives the score (which means the same for every model), then by how
    far the score clears its model's threshold."""
    if len(uses) == 1:
        return lambda h: (-h[0], h[1])
    limits = {u.model_id: u.threshold for u in uses}

    def key(h: Hit) -> tuple[float, ...]:
        fmr = models.fmr_at_score(h[3], h[0])
        return (1.0 if fmr is None else fmr, -(h[0] - limits[h[3]]), h[1])

    return key


def collapse(session: Session, hits: list[Hit], limits: dict[str, float], k: int,
              order: Callable[[Hit], tuple[float, ...]]) -> list[tuple[int, int, int, float]]:  # fmt: skip
    """(subject, template, gallery, score) per subject, best first, each at or above its
    model's threshold."""
    above = sorted((h for h in hits if h[0] >= limits[h[3]]), key=order)
    owners = queries.template_owners(session, [h[1] for h in above])
    ranked: list[tuple[int, int, int, float]] = []
    seen: set[int] = set()
    for score, template_id, gallery_id, _model in above:
        subject_id = owners.get(template_id)
        if subject_id is None or subject_id in seen:
            continue
        seen.add(subject_id)
        ranked.append((subject_id, template_id, gallery_id, score))
        if len(ranked) == k:
            break
    return ranked
