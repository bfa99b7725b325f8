"""A watchlist as the video watcher sees it: entry ids, their templates, one model, a threshold.

The templates sit in an exact index (:class:`facedocket.matching.exact.ExactIndex`): a
watchlist holds thousands of entries, not millions, and exact search of 1,000 templates
costs microseconds. Who put an entry on the list, why and until when is the service's
business; here an entry is an id.

Example::

    watchlist = Watchlist([11, 12], [template_a, template_b], threshold=0.93)
    watchlist.match(probe)  # [WatchlistMatch(entry_id=12, score=0.951)] or []
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facedocket.errors import InvalidInput, ModelMismatch
from facedocket.matching.exact import ExactIndex
from facedocket.types import Template


@dataclass(frozen=True)
class WatchlistMatch:
    """One watchlist entry whose template scores at or above the threshold."""

    entry_id: int
    score: float


class Watchlist:
    """Watchlist templates of one model, searched exactly at ``threshold``.

    ``max_candidates`` is how many entries a match reports at most (best first)."""

    def __init__(
        self,
        entry_ids: Sequence[int],
        templates: Sequence[Template],
        threshold: float,
        max_candidates: int = 3,
    ) -> None:
        if len(entry_ids) != len(templates):
            raise InvalidInput(f"{len(entry_ids)} entry ids for {len(templates)} templates; give one id per template")
        if len(set(entry_ids)) != len(entry_ids):
            raise InvalidInput("watchlist entry ids repeat; give each entry one id")
        models = {t.model_id for t in templates}
        if len(models) > 1:
            raise ModelMismatch(f"watchlist templates come from several models ({', '.join(sorted(models))}); use one")
        if max_candidates < 1:
            raise InvalidInput("max_candidates must be at least 1")
        self.model_id = models.pop() if models else ""
        self.threshold = float(threshold)
        self.max_candidates = max_candidates
        dim = len(templates[0].vector) if templates else 128
        self._index = ExactIndex(dim)
        if templates:
            vectors = np.stack([np.asarray(t.vector, dtype=np.float32) for t in templates])
            self._index.add(np.asarray(entry_ids, dtype=np.int64), vectors)

    def __len__(self) -> int:
        return len(self._index)

    def match(self, template: Template, threshold: float | None = None) -> list[WatchlistMatch]:
        """Entries scoring at least ``threshold`` (default: the watchlist's) against
        ``template``, best first; empty when none does. Refuses another model's template."""
        if len(self) == 0:
            return []
        if template.model_id != self.model_id:
            raise ModelMismatch(
                f"cannot match a {template.model_id} template against a {self.model_id} watchlist; "
                "make the template with the watchlist's model"
            )
        limit = self.threshold if threshold is None else threshold
        query = np.asarray(template.vector, dtype=np.float32)[None, :]
        scores, ids = self._index.search(query, self.max_candidates)
        return [
            WatchlistMatch(int(i), float(s)) for s, i in zip(scores[0], ids[0], strict=True) if i >= 0 and s >= limit
        ]

    def best_score(self, template: Template) -> float:
        """The highest score of ``template`` against any entry (``-inf`` for an empty list)."""
        if len(self) == 0:
            return float("-inf")
        matches = self.match(template, threshold=float("-inf"))
        return matches[0].score if matches else float("-inf")
