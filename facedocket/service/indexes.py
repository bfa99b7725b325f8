"""Per-gallery vector indexes kept in step with the database.

The database is the record. Each gallery row carries a ``generation`` that every
transaction changing its templates increments, and (once the gallery table has the
column) an ``epoch``, drawn at random at every increment, so that a database restored
from a backup and moved on again never shows a (generation, epoch) pair it showed before.
An index (in memory, and in a file ``index/gallery-<id>.fdindex`` under the data
directory) remembers the pair of the state it reflects, and its file the content
checksum of its ids and vectors. Before a search the manager compares:

* same state (generation, and epoch where both know it): use the index as it is (a search
  that read the gallery's state in its own transaction passes it, and no query is needed);
* in-memory index behind by exactly the change this process just committed: apply it;
* in-memory index behind another process's commits: bring it level by template ids
  (adding the missing, removing the gone; ids are never reused within one database);
* anything else (the index file of another state: a crash before the file was written, a
  database restored from a backup, an epoch or generation that does not match), and any
  file at all while the database records no epoch: bring the index level by ids, then
  compare its content checksum with the database's rows, and rebuild from the database
  when they differ (this reads every template of the gallery once, at the first search
  of a process; with epochs recorded, a file of the current state is trusted instead);
* no file, or a corrupt one: rebuild from the database.

A killed writer leaves ``.gallery-<id>.fdindex.*.tmp`` files holding every vector. They
are deleted when the manager opens the folder, and :meth:`IndexManager.sweep` deletes a
gallery's after an erasure or a retention run (:meth:`IndexManager.scrub` does).

The files are a cache: a failure to write one (a full disk, a read-only folder) never
fails the operation that changed the database, which is committed by then. The manager
keeps the in-memory index (searches go on), deletes the file it could not rewrite (so no
file lags behind an erasure; the next process rebuilds from the database), logs the
failure and keeps it, with the file's path, for the operation to report
(:meth:`IndexManager.take_failure`).
"""

from __future__ import annotations

import logging
import threading
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from facedocket.matching.index import (
    Generation,
    IndexCorrupt,
    VectorIndex,
    choose_kind,
    content_checksum,
    create_index,
    index_checksum,
    load_index,
    save_index,
    sweep_tmp,
    tmp_prefix,
)
from facedocket.store.queries import indexes as queries
from facedocket.vision.templates import TEMPLATE_DIM

_FILES = "gallery-"

log = logging.getLogger("facedocket.index")


@dataclass
class _Entry:
    index: VectorIndex
    generation: int  # -1: nothing checked against the database yet
    lock: threading.RLock
    epoch: str | None = ""  # the database's epoch at ``generation``; None: this process's own commit, not told
    unsaved: int = 0  # templates added or removed since the file was last written


@dataclass(frozen=True)
class _Rows:
    """Every template of a gallery as the database holds it."""

    ids: np.ndarray
    vectors: np.ndarray

    @property
    def checksum(self) -> str:
        return content_checksum(self.ids, self.vectors)


def vectors_from_rows(blobs: list[bytes]) -> np.ndarray:
    """Stored template vectors as one (n, dim) float32 array; a gallery's templates are all of
    its model, so of one size (a 128-d model's by default when there are none)."""
    if not blobs:
        return np.zeros((0, TEMPLATE_DIM), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), len(blobs[0]) // 4)


def database_state(session: Session, gallery_id: int) -> Generation:
    """The gallery's generation and epoch as the database records them (the epoch is ``""``
    for a gallery not changed since epochs were recorded)."""
    generation, epoch, _kind = queries.state(session, gallery_id)
    return Generation(generation, epoch=epoch)


def bump(session: Session, gallery_id: int) -> Generation:
    """Move the gallery to its next generation, with a new random epoch, inside the caller's
    transaction; pass what it returns to :meth:`IndexManager.applied` once committed."""
    generation, epoch = queries.bump_generation(session, gallery_id)
    return Generation(generation, epoch=epoch)


class IndexManager:
    """Holds one index per gallery and keeps it equal to the database."""

    def __init__(self, folder: Path, sessions: sessionmaker[Session]) -> None:
        self.folder = folder
        self.sessions = sessions
        self._entries: dict[int, _Entry] = {}
        self._guard = threading.Lock()
        self._failures: dict[int, str] = {}
        self.sweep()  # temporary files of writers killed earlier

    def path(self, gallery_id: int) -> Path:
        return self.folder / f"{_FILES}{gallery_id}.fdindex"

    def _lock(self, gallery_id: int) -> threading.RLock:
        with self._guard:
            entry = self._entries.get(gallery_id)
            if entry is not None:
                return entry.lock
            lock = threading.RLock()
            self._entries[gallery_id] = _Entry(create_index("exact"), -1, lock)
            return lock

    def get(self, gallery_id: int, known: Generation | None = None) -> VectorIndex:
        """The gallery's index, level with the database. ``known`` is the gallery's state as
        the caller just read it: when the index reflects it, no query is needed."""
        with self._lock(gallery_id):
            entry = self._entries[gallery_id]
            if known is not None and _reflects(entry, known):
                return entry.index
            with self.sessions() as session:
                state = database_state(session, gallery_id)
                if _reflects(entry, state):
                    entry.epoch = state.epoch
                    return entry.index
                if 0 <= entry.generation < state and self._catch_up(session, gallery_id, entry):
                    entry.generation, entry.epoch = int(state), state.epoch  # other processes' commits since ours
                    return entry.index
                candidate = entry.index if entry.generation >= 0 else None
                if candidate is None and (loaded := self._load(gallery_id)) is not None:
                    candidate, stamp = loaded
                    if stamp == state and state.epoch and stamp.epoch == state.epoch:  # this very state
                        entry.index, entry.generation, entry.epoch = candidate, int(state), state.epoch
                        return entry.index
                self._reconcile(session, gallery_id, entry, state, candidate)
            self._write(gallery_id)  # a good file for the next process
            return entry.index

    def _load(self, gallery_id: int) -> tuple[VectorIndex, Generation] | None:
        """The index file and the state it names; None when it is missing or corrupt."""
        try:
            return load_index(self.path(gallery_id))
        except IndexCorrupt:
            return None

    def _reconcile(
        self, session: Session, gallery_id: int, entry: _Entry, state: Generation, candidate: VectorIndex | None
    ) -> None:
        """Set ``entry`` to ``state`` from ``candidate`` (an index of another state) brought
        level by ids and then checked against the database's rows by content checksum, or
        rebuilt from those rows when there is no candidate or its content differs (a
        restored database, say)."""
        rows = _read_rows(session, gallery_id)
        index = candidate
        if index is not None and rows.ids.size and index.dim != rows.vectors.shape[1]:
            index = None  # the gallery was re-embedded with a model of another template size
        if index is not None:
            gone = np.setdiff1d(index.ids(), rows.ids, assume_unique=True)
            missing = np.isin(rows.ids, index.ids(), assume_unique=True, invert=True)
            if gone.size:
                index.remove(gone)
            if missing.any():
                index.add(rows.ids[missing], rows.vectors[missing])
        if index is None or index_checksum(index) != rows.checksum:
            index = _build(rows, _kind(session, gallery_id))
        entry.index, entry.generation, entry.epoch, entry.unsaved = index, int(state), state.epoch, 0

    def _catch_up(self, session: Session, gallery_id: int, entry: _Entry) -> bool:
        """Bring the in-memory index level by template ids; False (nothing changed) when the
        templates now have another size (the gallery was re-embedded): rebuild it instead."""
        in_db = np.array(queries.template_ids(session, gallery_id), dtype=np.int64)
        in_index = entry.index.ids()
        gone = np.setdiff1d(in_index, in_db, assume_unique=True)
        missing = np.setdiff1d(in_db, in_index, assume_unique=True)
        chunks = [(np.array([r[0] for r in rows], dtype=np.int64), vectors_from_rows([r[1] for r in rows]))
                  for rows in queries.vectors_of(session, [int(x) for x in missing])]  # fmt: skip
        if any(vectors.shape[1] != entry.index.dim for _ids, vectors in chunks if len(vectors)):
            return False
        entry.unsaved += int(gone.size + missing.size)
        if gone.size:
            entry.index.remove(gone)
        for ids, vectors in chunks:
            entry.index.add(ids, vectors)
        return True

    def search(self, gallery_id: int, vectors: np.ndarray, k: int,
               known: Generation | None = None) -> tuple[np.ndarray, np.ndarray, int]:  # fmt: skip
        """Top-``k`` (scores, template ids) in the gallery's index, level with the database
        (with the state ``known`` when the caller read it), and the index size; searched under
        the gallery's lock, so never half-updated."""
        with self._lock(gallery_id):
            index = self.get(gallery_id, known)
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
        was at ``generation - 1``; otherwise the next :meth:`get` catches up. Pass the
        :class:`Generation` the bump returned, so that its epoch is known too."""
        with self._lock(gallery_id):
            entry = self._entries[gallery_id]
            if entry.generation != generation - 1:
                return
            if removed is not None and removed.size:
                entry.index.remove(removed)
                entry.unsaved += int(removed.size)
            if added is not None and added[0].size:
                if added[1].shape[1] != entry.index.dim:
                    if len(entry.index):  # another size than the index holds: rebuild at the next get
                        entry.generation = -1
                        return
                    entry.index = create_index(entry.index.kind, dim=added[1].shape[1])
                entry.index.add(added[0], added[1])
                entry.unsaved += int(added[0].size)
            entry.generation = int(generation)
            entry.epoch = getattr(generation, "epoch", "") or None

    def save(self, gallery_id: int) -> None:
        """Bring the gallery's index level with the database and write its file (atomically),
        so that no file is written holding templates the database no longer has."""
        with self._lock(gallery_id):
            self.get(gallery_id)
            self._write(gallery_id)

    def _write(self, gallery_id: int) -> None:
        with self._lock(gallery_id):
            entry = self._entries[gallery_id]
            if entry.generation < 0:
                return
            path = self.path(gallery_id)
            try:
                self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                save_index(entry.index, path, entry.generation, entry.epoch or "")
            except OSError as exc:
                self._failed(gallery_id, path, exc)
                return
            entry.unsaved = 0
            self._failures.pop(gallery_id, None)

    def _failed(self, gallery_id: int, path: Path, exc: OSError) -> None:
        """Keep a write failure for the operation to report, and delete the file it could not replace."""
        existed = path.exists()
        with suppress(OSError):
            path.unlink(missing_ok=True)
        with suppress(OSError):
            self.sweep(gallery_id)
        if path.exists():
            older = "; the older file there could not be removed either (the next start checks it against the database)"
        else:
            older = "; the older file there was removed" if existed else ""
        message = (f"the index file {path} could not be written ({exc.strerror or exc}){older}; searches use the "
                   "index in memory, and the next start rebuilds the file from the database")  # fmt: skip
        self._failures[gallery_id] = message
        log.info("gallery %s: %s", gallery_id, message)  # reported by the operation (take_failure)

    def take_failure(self, gallery_id: int) -> str | None:
        """The last failure to write the gallery's index file since it was last asked, with
        the file's path; None when the file was written (or nothing was written)."""
        return self._failures.pop(gallery_id, None)

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
                state = database_state(session, gallery_id)
                entry.index = _build(_read_rows(session, gallery_id), _kind(session, gallery_id))
                entry.generation, entry.epoch = int(state), state.epoch
            self._write(gallery_id)
            return len(entry.index)

    def verify(self, gallery_id: int) -> bool:
        """Whether the gallery's index holds exactly the database's templates (ids and
        vectors), compared by content checksum; reads every template of the gallery."""
        with self._lock(gallery_id):
            index = self.get(gallery_id)
            with self.sessions() as session:
                return index_checksum(index) == _read_rows(session, gallery_id).checksum

    def scrub(self, gallery_id: int) -> None:
        """Write the index file now, with removed vectors gone from it too (an approximate
        index only tombstones removals, so it is rebuilt), and delete temporary files of
        killed writers: after an erasure no index file holds the erased templates."""
        with self._lock(gallery_id):
            self.sweep(gallery_id)
            index = self.get(gallery_id)
            if index.kind == "exact":
                self.save(gallery_id)
            else:
                self.rebuild(gallery_id)

    def sweep(self, gallery_id: int | None = None) -> int:
        """Delete the temporary files that killed writers left for ``gallery_id`` (for every
        gallery when None); a file a live writer holds is left alone. Returns how many."""
        prefix = tmp_prefix(self.path(gallery_id)) if gallery_id is not None else f".{_FILES}"
        try:
            return len(sweep_tmp(self.folder, prefix))
        except OSError as exc:  # a read-only folder: nothing can be deleted (nor written)
            log.warning("temporary index files in %s could not be deleted: %s", self.folder, exc)
            return 0

    def forget(self, gallery_id: int) -> None:
        """Drop the gallery's index from memory and disk (the gallery is gone)."""
        with self._guard:
            self._entries.pop(gallery_id, None)
        self.path(gallery_id).unlink(missing_ok=True)
        self.sweep(gallery_id)


def _reflects(entry: _Entry, state: Generation) -> bool:
    """Whether ``entry`` holds the database state ``state``: the same generation, and the
    same epoch unless the database has none or this process committed it itself (None)."""
    if entry.generation != state:
        return False
    return entry.epoch is None or not state.epoch or entry.epoch == state.epoch


def _read_rows(session: Session, gallery_id: int) -> _Rows:
    rows = queries.template_vectors(session, gallery_id)
    return _Rows(np.array([r[0] for r in rows], dtype=np.int64), vectors_from_rows([r[1] for r in rows]))


def _kind(session: Session, gallery_id: int) -> str:
    return queries.state(session, gallery_id)[2]


def _build(rows: _Rows, kind: str) -> VectorIndex:
    index = create_index(choose_kind(len(rows.ids)) if kind == "auto" else kind, dim=rows.vectors.shape[1])
    if rows.ids.size:
        index.add(rows.ids, rows.vectors)
    return index
