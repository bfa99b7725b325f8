"""The vector index behind 1:N search: one protocol, two kinds, one file format.

Templates are L2-normalised float32 vectors, so cosine similarity is the inner product;
each carries an int64 id (the database row id of the template). Two kinds implement
:class:`VectorIndex`:

* ``"exact"`` (:mod:`facedocket.matching.exact`): brute force, the default;
* ``"hnsw"`` (:mod:`facedocket.matching.hnsw`): FAISS HNSW graph whose shortlist is
  re-scored exactly, for large galleries.

The database is the record: an index file is a cache that :func:`load_index` refuses
(raising :class:`IndexCorrupt`) when it is missing, truncated, altered or of another
format version, and the caller then calls :func:`rebuild` with the rows it holds.

File format (little-endian)::

    header   magic b"FDINDEX\\n" | version u32 | kind 16s | dim u32 | count u64
             | generation u64 | epoch 16s | content checksum 32s
             | payload length u64 | SHA-256 32s
    payload  meta length u32 | meta JSON (utf-8) | body (kind-specific arrays)

The SHA-256 covers the header fields before it and the whole payload, so a flipped
byte anywhere (the generation included) is caught.

What the file holds is named three ways (a :class:`Generation`): the gallery's
``generation`` and ``epoch`` as the database recorded them for the state the index
reflects (the epoch is drawn at random each time the database bumps the generation, so
a database restored from a backup and moved on again never repeats a pair), and the
:func:`content_checksum` of its ids and vectors (BLAKE2b), which the service compares
with one computed from the database's rows when the two may differ.

Files are written to a temporary file beside the target (``.<name>.<random>.tmp``, mode
0600, held under an exclusive ``flock`` while it is written), flushed to disk and moved
into place with ``os.replace``, so a reader sees the old file or the new, never half.
A temporary file left by a killed writer holds every vector of the index; :func:`sweep_tmp`
deletes those no live writer holds.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import struct
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from facedocket.errors import FaceDocketError

MAGIC = b"FDINDEX\n"
FORMAT_VERSION = 2  # 2: the header names the epoch and the content checksum
KINDS = ("exact", "hnsw")
AUTO_THRESHOLD = 50_000

_FIELDS = struct.Struct("<8sI16sIQQ16s32sQ")
_HEADER = struct.Struct(_FIELDS.format + "32s")
_META_LEN = struct.Struct("<I")

IdsLike = Sequence[int] | npt.NDArray[np.integer[Any]]
Scores = npt.NDArray[np.float32]
Ids = npt.NDArray[np.int64]
Vectors = npt.NDArray[np.float32]


class IndexCorrupt(FaceDocketError):
    """An index file that cannot be trusted: missing, truncated, altered or of another
    format version. Rebuild the index from the database (see :func:`rebuild`)."""

    status = 500


class Generation(int):
    """A gallery generation, with the epoch the database drew for it and the content
    checksum of an index at it.

    It is an ``int``, so every index kind's ``save(path, generation)`` passes it unchanged
    to :func:`write_index_file`, which writes all three into the header, and so code that
    only compares generations keeps working. ``epoch`` is 32 hex digits or ``""`` (not
    known); ``checksum`` is 64 hex digits or ``""``.

    Example::

        >>> g = Generation(7, epoch="ab" * 16)
        >>> g == 7, g.epoch[:4], g.checksum
        (True, 'abab', '')
    """

    epoch: str
    checksum: str

    def __new__(cls, value: int, epoch: str = "", checksum: str = "") -> Generation:
        made = super().__new__(cls, value)
        made.epoch = epoch
        made.checksum = checksum
        return made

    def same_state(self, other: int) -> bool:
        """Whether ``other`` names the same database state: the same generation and, when
        both know it, the same epoch."""
        theirs = getattr(other, "epoch", "")
        return int(self) == int(other) and (not self.epoch or not theirs or self.epoch == theirs)

    def __repr__(self) -> str:
        return f"Generation({int(self)}, epoch={self.epoch!r}, checksum={self.checksum!r})"


def content_checksum(ids: IdsLike, vectors: npt.ArrayLike) -> str:
    """BLAKE2b-256 of ``ids`` (int64) and their ``vectors`` (float32) in id order: one
    value for the same templates whatever the order, the index kind or the file format.

    Example::

        >>> a = content_checksum([2, 1], np.eye(2, dtype=np.float32))
        >>> a == content_checksum([1, 2], np.eye(2, dtype=np.float32)[::-1])
        True
    """
    id_array = np.asarray(ids, dtype=np.int64).ravel()
    vec_array = np.asarray(vectors, dtype=np.float32)
    order = np.argsort(id_array, kind="stable")
    digest = hashlib.blake2b(b"facedocket index content v1", digest_size=32)
    digest.update(struct.pack("<QQ", len(id_array), vec_array.shape[1] if vec_array.ndim == 2 else 0))
    digest.update(np.ascontiguousarray(id_array[order]).astype("<i8", copy=False).tobytes())
    digest.update(np.ascontiguousarray(vec_array[order]).astype("<f4", copy=False).tobytes())
    return digest.hexdigest()


def index_checksum(index: VectorIndex) -> str:
    """:func:`content_checksum` of what ``index`` holds."""
    ids = index.ids()
    vectors = index.vectors_for(ids) if ids.size else np.zeros((0, index.dim), np.float32)
    return content_checksum(ids, vectors)


def save_index(index: VectorIndex, path: Path, generation: int, epoch: str = "") -> Generation:
    """Write ``index`` to ``path`` (atomically) tagged with ``generation``, ``epoch`` and its
    content checksum; returns the :class:`Generation` written."""
    stamp = Generation(int(generation), epoch=epoch, checksum=index_checksum(index))
    index.save(path, stamp)
    return stamp


@runtime_checkable
class VectorIndex(Protocol):
    """What every index kind offers. Scores are inner products (cosine similarity)."""

    kind: str
    dim: int

    def add(self, ids: IdsLike, vectors: Vectors) -> None:
        """Add ``vectors`` (n, dim) under ``ids`` (n,); an id already present is replaced."""
        ...

    def remove(self, ids: IdsLike) -> int:
        """Remove ``ids``; returns how many of them were present."""
        ...

    def search(self, vectors: Vectors, k: int) -> tuple[Scores, Ids]:
        """Top ``k`` per query (q, dim): scores (q, k) descending and ids (q, k), padded
        with ``-inf`` and ``-1`` where fewer than ``k`` templates are indexed."""
        ...

    def ids(self) -> Ids:
        """All indexed ids, sorted."""
        ...

    def vectors_for(self, ids: IdsLike) -> Vectors:
        """The stored vectors of ``ids`` (n, dim); raises ``KeyError`` for an unknown id."""
        ...

    def save(self, path: Path, generation: int) -> None:
        """Write the index to ``path`` atomically, tagged with ``generation``."""
        ...

    @property
    def nbytes(self) -> int:
        """Memory held by the index's own structures (vectors, graph, id maps), estimated."""
        ...

    def __len__(self) -> int: ...


def create_index(kind: str, dim: int = 128, **options: Any) -> VectorIndex:
    """An empty index of ``kind`` (``"exact"``, ``"hnsw"``).

    ``options`` go to the index class (e.g. ``ef_search=`` for HNSW).

    Example::

        >>> index = create_index("exact", dim=4)
        >>> index.add(np.array([7]), np.array([[1, 0, 0, 0]], dtype=np.float32))
        >>> index.search(np.array([[1, 0, 0, 0]], dtype=np.float32), k=2)[1].tolist()
        [[7, -1]]
    """
    # Imported here: the index modules import this one, and FAISS stays off the import path.
    if kind == "exact":
        from facedocket.matching.exact import ExactIndex

        return ExactIndex(dim, **options)
    if kind == "hnsw":
        from facedocket.matching.hnsw import HnswIndex

        return HnswIndex(dim, **options)
    raise ValueError(f"unknown index kind {kind!r}; use one of {', '.join(KINDS)} (or 'auto')")


def choose_kind(count: int, threshold: int = AUTO_THRESHOLD) -> str:
    """The kind ``"auto"`` stands for: exact below ``threshold`` templates, HNSW above.

    Example::

        >>> choose_kind(1_000), choose_kind(2_000_000)
        ('exact', 'hnsw')
    """
    return "exact" if count < threshold else "hnsw"


def rebuild(kind: str, ids: IdsLike, vectors: Vectors, dim: int = 128, **options: Any) -> VectorIndex:
    """A new index of ``kind`` holding ``vectors`` under ``ids`` (e.g. rows read from the
    database after :func:`load_index` raised :class:`IndexCorrupt`). ``"auto"`` picks a kind
    by size.

    Example::

        >>> v = np.eye(3, dtype=np.float32)
        >>> len(rebuild("auto", [1, 2, 3], v, dim=3))
        3
    """
    ids_array = np.asarray(ids, dtype=np.int64)
    chosen = choose_kind(len(ids_array)) if kind == "auto" else kind
    index = create_index(chosen, dim, **options)
    index.add(ids_array, np.asarray(vectors, dtype=np.float32))
    return index


def load_index(path: Path) -> tuple[VectorIndex, Generation]:
    """The index saved at ``path`` and its generation (with the epoch and content checksum
    the file names; see :class:`Generation`).

    Raises :class:`IndexCorrupt` when the file is missing, truncated, altered, of another
    format version or of an unknown kind.

    Example::

        >>> index, generation = load_index(Path("gallery.fdindex"))  # doctest: +SKIP
    """
    stored = read_index_file(path)
    stamp = Generation(stored.generation, epoch=stored.epoch, checksum=stored.checksum)
    if stored.kind == "exact":
        from facedocket.matching.exact import ExactIndex

        return ExactIndex.from_stored(stored), stamp
    if stored.kind == "hnsw":
        from facedocket.matching.hnsw import HnswIndex

        return HnswIndex.from_stored(stored), stamp
    raise IndexCorrupt(f"{path}: unknown index kind {stored.kind!r}; rebuild the index from the database")


# --- helpers the index kinds share ------------------------------------------------------


def as_queries(vectors: npt.ArrayLike, dim: int) -> Vectors:
    """``vectors`` as a C-contiguous float32 (q, dim) array; one vector becomes (1, dim)."""
    queries = np.ascontiguousarray(vectors, dtype=np.float32)
    if queries.ndim == 1:
        queries = queries[None, :]
    if queries.ndim != 2 or queries.shape[1] != dim:
        raise ValueError(f"expected vectors of shape (n, {dim}), got {np.shape(vectors)}")
    return queries


def as_batch(ids: IdsLike, vectors: npt.ArrayLike, dim: int) -> tuple[Ids, Vectors]:
    """Check an ``add`` batch and keep the last vector of an id given twice."""
    id_array = np.asarray(ids, dtype=np.int64).ravel()
    vec_array = as_queries(vectors, dim) if id_array.size else np.zeros((0, dim), np.float32)
    if len(id_array) != len(vec_array):
        raise ValueError(f"{len(id_array)} ids for {len(vec_array)} vectors; pass one id per vector")
    if id_array.size and (id_array < 0).any():
        raise ValueError("ids must be >= 0 (-1 marks padding in search results)")
    _, last_from_end = np.unique(id_array[::-1], return_index=True)
    if len(last_from_end) == len(id_array):
        return id_array, vec_array
    keep = np.sort(len(id_array) - 1 - last_from_end)
    return id_array[keep], vec_array[keep]


def as_id_list(ids: IdsLike) -> list[int]:
    """``ids`` as a list of Python ints."""
    return [int(i) for i in np.asarray(ids, dtype=np.int64).ravel()]


def dict_nbytes(d: dict[int, int]) -> int:
    """Bytes of an int -> int dict: its table plus a 28-byte int object per key and value."""
    return sys.getsizeof(d) + 56 * len(d)


def check_k(k: int) -> None:
    """Refuse a ``k`` below 1."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def top_k(scores: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.intp]:
    """Column positions of the ``k`` highest scores per row, best first (argpartition,
    then a sort of those ``k`` only). Needs ``k <= scores.shape[1]``."""
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(scores.shape[1]), scores.shape).copy()
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def padded(scores: Scores, ids: Ids, k: int) -> tuple[Scores, Ids]:
    """Pad (q, m) results to (q, k) with ``-inf`` scores and ``-1`` ids."""
    q, m = ids.shape
    if m >= k:
        return scores[:, :k], ids[:, :k]
    out_scores = np.full((q, k), -np.inf, dtype=np.float32)
    out_ids = np.full((q, k), -1, dtype=np.int64)
    out_scores[:, :m], out_ids[:, :m] = scores, ids
    return out_scores, out_ids


# --- the file format --------------------------------------------------------------------


@dataclass(frozen=True)
class StoredIndex:
    """A checked index file: its header fields, its meta JSON and its body bytes."""

    kind: str
    dim: int
    count: int
    generation: int
    meta: dict[str, Any]
    body: memoryview
    epoch: str = ""
    checksum: str = ""


def write_index_file(
    path: Path,
    *,
    kind: str,
    dim: int,
    count: int,
    generation: int,
    meta: dict[str, Any],
    body: Iterable[npt.NDArray[Any]],
) -> None:
    """Write an index file atomically: header, meta JSON, then each array of ``body``.
    A :class:`Generation` puts its epoch and content checksum in the header too."""
    meta_bytes = json.dumps(meta, sort_keys=True).encode()
    chunks: list[bytes | memoryview] = [_META_LEN.pack(len(meta_bytes)), meta_bytes]
    chunks += [_as_bytes(a) for a in body]
    length = sum(len(c) for c in chunks)
    epoch = bytes.fromhex(getattr(generation, "epoch", "") or "").ljust(16, b"\0")[:16]
    checksum = bytes.fromhex(getattr(generation, "checksum", "") or "").ljust(32, b"\0")[:32]
    fields = _FIELDS.pack(MAGIC, FORMAT_VERSION, kind.encode(), dim, count, int(generation), epoch, checksum, length)
    digest = hashlib.sha256(fields)
    for chunk in chunks:
        digest.update(chunk)
    _atomic_write(Path(path), [fields, digest.digest(), *chunks])


def read_index_file(path: Path) -> StoredIndex:
    """Read and check an index file; raises :class:`IndexCorrupt` on any defect."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise IndexCorrupt(f"{path}: cannot read the index file ({e}); rebuild it from the database") from e
    magic, version, kind, dim, count, generation, epoch, checksum, length, digest = _header(path, data)
    payload = memoryview(data)[_HEADER.size :]
    _check_payload(path, magic, version, length, payload)
    if _digest(data, payload) != digest:
        raise IndexCorrupt(f"{path}: checksum mismatch (file altered); rebuild the index from the database")
    meta_len = _META_LEN.unpack_from(payload)[0]
    try:
        meta = json.loads(bytes(payload[_META_LEN.size : _META_LEN.size + meta_len]))
    except ValueError as e:
        raise IndexCorrupt(f"{path}: unreadable metadata; rebuild the index") from e
    body = payload[_META_LEN.size + meta_len :]
    name = kind.rstrip(b"\0").decode(errors="replace")
    return StoredIndex(name, dim, count, generation, meta, body, _hex(epoch), _hex(checksum))


def _hex(raw: bytes) -> str:
    """A header field as hex; ``""`` when it was left empty (all zero bytes)."""
    return raw.hex() if raw.strip(b"\0") else ""


def _header(path: Path, data: bytes) -> tuple[Any, ...]:
    if len(data) < _HEADER.size:
        raise IndexCorrupt(f"{path}: truncated index file (no header); rebuild the index from the database")
    return _HEADER.unpack_from(data)


def _digest(data: bytes, payload: memoryview) -> bytes:
    digest = hashlib.sha256(memoryview(data)[: _FIELDS.size])
    digest.update(payload)
    return digest.digest()


def _check_payload(path: Path, magic: bytes, version: int, length: int, payload: memoryview) -> None:
    if magic != MAGIC:
        raise IndexCorrupt(f"{path}: not a FaceDocket index file (bad magic); rebuild the index")
    if version != FORMAT_VERSION:
        raise IndexCorrupt(
            f"{path}: index format version {version}, this FaceDocket reads {FORMAT_VERSION}; rebuild the index"
        )
    if len(payload) != length:
        raise IndexCorrupt(
            f"{path}: payload is {len(payload)} bytes, header says {length} (truncated?); rebuild the index"
        )


def split_body(body: memoryview, parts: Sequence[tuple[npt.DTypeLike, tuple[int, ...]]]) -> list[Any]:
    """Cut ``body`` into read-only arrays of the given dtypes and shapes (views, no copy);
    the last part may use ``-1`` in its shape to take the rest. Raises IndexCorrupt when
    the sizes do not add up."""
    arrays: list[Any] = []
    offset = 0
    for dtype, shape in parts:
        itemsize = np.dtype(dtype).itemsize
        n = int(np.prod(shape)) if -1 not in shape else (len(body) - offset) // itemsize
        end = offset + n * itemsize
        if end > len(body) or n < 0:
            raise IndexCorrupt("index body is shorter than its header says; rebuild the index")
        arrays.append(np.frombuffer(body[offset:end], dtype=dtype).reshape(shape))
        offset = end
    if offset != len(body):
        raise IndexCorrupt("index body is longer than its header says; rebuild the index")
    return arrays


def _as_bytes(array: npt.NDArray[Any]) -> memoryview:
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8).data


def tmp_prefix(path: Path) -> str:
    """How the temporary files of writes to ``path`` begin (``.<name>.``)."""
    return f".{Path(path).name}."


def _atomic_write(path: Path, chunks: Sequence[bytes | memoryview]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = _locked_tmp(path)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, path)  # still under the lock, so no sweep can take it first
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _locked_tmp(path: Path) -> tuple[int, str]:
    """A new temporary file beside ``path`` (mode 0600), held under an exclusive flock, and
    still the file at its name (a sweep between creating and locking it would have removed it)."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=tmp_prefix(path), suffix=".tmp", dir=path.parent)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return fd, tmp
        except FileNotFoundError:
            pass
        os.close(fd)


def sweep_tmp(folder: Path, prefix: str = ".") -> list[Path]:
    """Delete the temporary files of index writes in ``folder`` whose names begin with
    ``prefix`` and that no live writer holds (a writer keeps an exclusive flock on its file
    until it is moved into place; a killed writer's lock goes with it). Returns what was deleted.

    Example::

        >>> sweep_tmp(Path("index"), tmp_prefix(Path("index/gallery-3.fdindex")))  # doctest: +SKIP
        [PosixPath('index/.gallery-3.fdindex.k2j4x9.tmp')]
    """
    removed: list[Path] = []
    try:
        candidates = [p for p in Path(folder).iterdir() if p.name.startswith(prefix) and p.name.endswith(".tmp")]
    except FileNotFoundError:
        return removed
    for candidate in candidates:
        try:
            fd = os.open(candidate, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # a live writer
        try:
            candidate.unlink()
            removed.append(candidate)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)
    return removed


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
