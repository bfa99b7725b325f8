"""Per-gallery vector indexes kept in step with the database.

The database is the record. Each gallery row carries a ``generation`` that every
transaction changing its templates increments. An index (in memory, and in a file
``index/gallery-<id>.fdindex`` under the data directory) remembers the generation it
reflects. Before a search the manager compares the two:

* same generation: use the index as it is;
* in-memory index behind by exactly the change this process just committed: apply it;
* otherwise (another process enrolled, a crash left the file stale): bring the index level
  with the database by comparing template ids, adding the missing, removing the gone;
* no file, or a corrupt one: rebuild from the database.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from facedocket.matching.index import IndexCorrupt, VectorIndex, choose_kind, create_index, load_index
from facedocket.store.queries import indexes as queries
from facedocket.vision.templates import TEMPLATE_DIM


@dataclass
class _Entry:
    index: VectorIndex
    generation: int
    lock: threading.RLock
    unsaved: int = 0  # templates added or removed since the file was last written


def vectors_from_rows(blobs: list[bytes]) -> np.ndarray:
    if not blobs:
        return np.zeros((0, TEMPLATE_DIM), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), TEMPLATE_DIM)


class IndexManager:
    """Holds one index per gallery and keeps it equal to the database."""

    def __init__(self, folder: Path, sessions: sessionmaker[Session]) -> None:
        self.folder = folder
        self.sessions = sessions
        self._entries: dict[int, _Entry] = {}
        self._guard = threading.Lock()

    def path(self, gallery_id: int) -> Path:
        return self.folder / f"gallery-{gallery_id}.fdindex"

    def _lock(self, gallery_id: int) -> threading.RLock:
        with self._guard:
            entry = self._entries.get(gallery_id)
            if entry is not None:
                return entry.lock
            lock = threading.RLock()
            self._entries[gallery_id] = _Entry(create_index("exact"), -1, lock)
            return lock

    def get(self, gallery_id: int, generation: int | None = None) -> VectorIndex:
        """The gallery's index, level with the database. ``generation`` is the gallery's
        generation as the caller just read it: when the index is at it, no query is needed."""
        with self._lock(gallery_id):
            entry = self._entries[gallery_id]
            if generation is not None and entry.generation == generation:
                return entry.index
            with self.sessions() as session:
                generation, kind = queries.generation(session, gallery_id)
                if entry.generation == generation:
                    return entry.index
                rebuilt = entry.generation < 0 and not self._load(gallery_id, entry)
                if rebuilt:
                    entry.index = self._build(session, gallery_id, kind)
                elif entry.generation != generation:
                    self._catch_up(session, gallery_id, entry)
                entry.generation = generation
            if rebuilt:  # the file was missing or corrupt: write a good one for the next process
                self.save(gallery_id)
            return entry.index

    def _load(self, gallery_id: int, entry: _Entry) -> bool:
        """Load the index file into ``entry``; False when it is missing or corrupt."""
        try:
            entry.index, entry.generation = load_index(self.path(gallery_id))
        except IndexCorrupt:
            return False
        return True

    def _build(self, session: Session, gallery_id: int, kind: str) -> VectorIndex:
        rows = queries.template_vectors(session, gallery_id)
        index = create_index(choose_kind(len(rows)) if kind == "auto" else kind)
        if rows:
            index.add(np.array([r[0] for r in rows], dtype=np.int64), vectors_from_rows([r[1] for r in rows]))
        return index

    def _catch_up(self, session: Session, gallery_id: int, entry: _Entry) -> None:
        in_db = np.array(queries.template_ids(session, gallery_id), dtype=np.int64)
        in_index = entry.index.ids()
        gone = np.setdiff1d(in_index, in_db, assume_unique=True)
        missing = np.setdiff1d(in_db, in_index, assume_unique=True)
        entry.unsaved += int(gone.size + missing.size)
        if gone.size:
            entry.index.remove(gone)
        for rows in queries.vectors_of(session, [int(x) for x in missing]):
            entry.index.add(np.array([r[0] for r in rows], dtype=np.int64), vectors_from_rows([r[1] for r in rows]))

    def search(self, gallery_id: int, vectors: np.ndarray, k: int,
               generation: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:  # fmt: skip
        """Top-``k`` (scores, template ids) in the gallery's index, level with the database
        (at ``generation`` when the caller read it), and the index size; searched under the
        gallery's lock, so never half-updated."""
        with self._lock(gallery_id):
            index = self.get(gallery_id, generation)
            scores, ids = index.search(vectors, k)
            return scores, ids, len(index)

    def applied(
        self,
        gallery_id: int,
        generation: int,
        added: tuple[np.ndarray, np.ndarray] | None = None,
        removed: np.ndarray | None = None,
    ) -> None:
        """Tell the manager that a committed transaction moved the gallery to ``generation``
        by adding and/or removing these templates. Applied at once when the in-memory index
        was at ``generation - 1``; otherwise the next :meth:`get` catches up."""
        with self._lock(gallery_id):
            entry = self._entries[gallery_id]
            if entry.generation != generation - 1:
                return
            if removed is not None and removed.size:
                entry.index.remove(removed)
                entry.unsaved += int(removed.size)
            if added is not None and added[0].size:
                entry.index.add(added[0], added[1])
                entry.unsaved += int(added[0].size)
            entry.generation = generation

    def save(self, gallery_id: int) -> None:
        """Write the gallery's index file (atomically), at the generation it reflects."""
        with self._lock(gallery_id):
            entry = self._entries[gallery_id]
            if entry.generation >= 0:
                self.folder.mkdir(parents=True, exist_ok=True)
                entry.index.save(self.path(gallery_id), entry.generation)
                entry.unsaved = 0

    def save_if_due(self, gallery_id: int) -> None:
        """Write the file once changes reach 1 % of the index (every change, for an index of
        under 100 templates). A file that lags is still correct (the next load catches up
        from the database); this only keeps a large index from being rewritten for every
        single upload."""
        with self._lock(gallery_id):
            entry = self._entries[gallery_id]
            if entry.unsaved >= max(1, len(entry.index) // 100):
                self.save(gallery_id)

    def flush(self) -> None:
        """Write every index with unsaved changes (on shutdown)."""
        for gallery_id, entry in list(self._entries.items()):
            if entry.unsaved:
                self.save(gallery_id)

    def rebuild(self, gallery_id: int) -> int:
        """Rebuild the gallery's index from the database and save it; returns its size."""
        with self._lock(gallery_id):
            entry = self._entries[gallery_id]
            with self.sessions() as session:
                generation, kind = queries.generation(session, gallery_id)
                entry.index = self._build(session, gallery_id, kind)
                entry.generation = generation
            self.save(gallery_id)
            return len(entry.index)

    def scrub(self, gallery_id: int) -> None:
        """Write the index file now, with removed vectors gone from it too (an approximate
        index only tombstones removals, so it is rebuilt): after an erasure no index file
        holds the erased templates."""
        with self._lock(gallery_id):
            index = self.get(gallery_id)
            if index.kind == "exact":
                self.save(gallery_id)
            else:
                self.rebuild(gallery_id)

    def forget(self, gallery_id: int) -> None:
        """Drop the gallery's index from memory and disk (the gallery is gone)."""
        with self._guard:
            self._entries.pop(gallery_id, None)
        self.path(gallery_id).unlink(missing_ok=True)
