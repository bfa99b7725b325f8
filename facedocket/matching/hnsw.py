"""Approximate inner-product search on a FAISS HNSW graph, re-scored exactly.

* Graph: ``faiss.IndexHNSWSQ(dim, QT_8bit, M, METRIC_INNER_PRODUCT)``: the graph walks
  8-bit codes (each coordinate over the fixed range ``[-CODE_RANGE, CODE_RANGE]``, so the
  codes need no training data and an index can start empty). At a million templates the
  walk is bound by memory, and 8-bit codes made it about 1.4 times faster than float32 at
  the same recall (same run, same graph settings).
* Vectors: the float32 vectors are kept beside the graph, slot by slot; re-ranking and the
  exact fallback read them, so scores are exact.
* Memory: the graph's links and codes are backed by 2 MB pages (:mod:`hugepages`) after a
  load, a rebuild, or an add that made FAISS move them or grew them by a quarter. A search
  reads about 15,000 random rows at 1M templates, and with 4 KB pages most of those reads
  also miss the TLB: huge pages made the 1M search about 13 % faster (same machine,
  alternating runs).
* Search: the graph returns a shortlist of ``max(shortlist, 4 * k)`` candidates with
  ``efSearch = max(ef_search, that size)``; the shortlist is re-scored exactly with
  NumPy and the best ``k`` are returned. A query whose shortlist comes back short
  falls back to an exact scan, and so do tiny indexes (``<= exact_below`` slots).
* Ids: FAISS numbers vectors 0..n-1 in insertion order (its "slots"); ``_labels`` maps a
  slot to our int64 id (``-1`` for a dead slot) and ``_slot`` maps id -> slot.
* Removal: HNSW cannot delete, so a removed (or replaced) id leaves a tombstone: its
  slot is dead and a FAISS ``IDSelectorBitmap`` keeps dead slots out of every result
  while the graph still routes through them. When dead slots pass ``rebuild_ratio``
  (20 %) of all slots, the graph is rebuilt from the live vectors.

Defaults (M=48, efConstruction=200, efSearch=256, shortlist=40) come from
``benchmarks/index.py`` on clustered face-like templates, one search thread
(``benchmarks/results/index_search.json`` has the figures and the machine). At 1M
templates recall@10 is 0.984 at efSearch 192, 0.991 at 256 and 0.993 at 288, and a search
at 256 computes about 15,000 distances. What was tried to make that cheaper, each measured
beside the default on the same templates:

* a float32 graph (M=48, ef 320): 3.24 ms against 2.31 ms for the 8-bit graph, both at
  recall 0.994;
* M=32 (ef 512 for recall 0.993), M=64, efConstruction 400: the same recall costs the
  same time or more (100k templates: recall 0.99 at 0.8-0.95 ms for M 32, 48 and 64);
* a shortlist of every ``efSearch`` candidate instead of 40: no recall gained at 1M, so
  the misses are templates the walk never reaches;
* FAISS's direct signed-byte codec (integer dot products), graph nodes reordered by BFS or
  by k-means cell, extra entry points from 4,096 k-means cells, usearch (i8 and f16),
  hnswlib, an NSG graph and an HNSW walk of our own (numba): most were within the noise,
  and the best (our own walk, 13 %) would have added a compiler to the dependencies, so
  none was kept (huge pages, above, were);
* IVF (4,096 cells, flat or 4-bit PQ): recall 0.95 needs an eighth of the cells, far
  slower than the graph on these templates.

A walk costs about 100 ns per distance on the 2-core benchmark machine even when the graph
is in cache, more when it is not, and that machine's memory latency moves by up to 2.5
times from one minute to the next. The 1M search at efSearch 256 measured 1.9, 3.1 and
2.9 ms in three runs before huge pages and 1.82, 1.76, 2.49, 1.84 and 1.72 ms in five runs
after (recall@10 0.9914 in each; ``benchmarks/results/index_search_history.jsonl``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from facedocket.matching import hugepages
from facedocket.matching.index import (
    Ids,
    IdsLike,
    IndexCorrupt,
    Scores,
    StoredIndex,
    Vectors,
    as_batch,
    as_id_list,
    as_queries,
    check_k,
    dict_nbytes,
    padded,
    split_body,
    top_k,
    write_index_file,
)

M = 48
EF_CONSTRUCTION = 200
EF_SEARCH = 256
SHORTLIST = 40
CODE_RANGE = 0.5
"""Each coordinate of the graph's 8-bit codes spans [-CODE_RANGE, CODE_RANGE]; a unit-norm
template rarely has a coordinate outside it, and one that does is clamped in the graph only
(re-ranking uses the float32 vector)."""
FORMAT = 2
REBUILD_RATIO = 0.2
EXACT_BELOW = 2048
_MIN_CAPACITY = 1024


class HnswIndex:
    """FAISS HNSW index with tombstones and exact re-ranking (see the module docstring).

    Example::

        >>> rng = np.random.default_rng(0)
        >>> v = rng.standard_normal((5000, 16)).astype(np.float32)
        >>> v /= np.linalg.norm(v, axis=1, keepdims=True)
        >>> index = HnswIndex(dim=16)
        >>> index.add(np.arange(5000) + 100, v)
        >>> index.search(v[:1], k=1)[1].tolist()
        [[100]]
    """

    kind = "hnsw"

    def __init__(
        self,
        dim: int = 128,
        m: int = M,
        ef_construction: int = EF_CONSTRUCTION,
        ef_search: int = EF_SEARCH,
        shortlist: int = SHORTLIST,
        rebuild_ratio: float = REBUILD_RATIO,
        exact_below: int = EXACT_BELOW,
    ) -> None:
        self.dim = dim
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.shortlist = shortlist
        self.rebuild_ratio = rebuild_ratio
        self.exact_below = exact_below
        self._index = self._new_graph()
        self._labels = np.full(0, -1, dtype=np.int64)
        self._vectors: Vectors = np.zeros((0, dim), dtype=np.float32)
        self._slot: dict[int, int] = {}
        self._live_bits: npt.NDArray[np.uint8] | None = None
        self._huge = [(0, 0), (0, 0)]  # (address, bytes advised) of the links and the codes

    def __len__(self) -> int:
        return len(self._slot)

    def __repr__(self) -> str:
        return f"HnswIndex(dim={self.dim}, count={len(self)}, dead={self.dead_slots})"

    @property
    def dead_slots(self) -> int:
        """Tombstones: slots of removed or replaced vectors still in the graph."""
        return int(self._index.ntotal) - len(self._slot)

    @property
    def nbytes(self) -> int:
        """Bytes of the graph (vectors, links, levels, offsets) and the id maps."""
        graph = self._index.hnsw
        storage: Any = faiss.downcast_index(self._index.storage)
        links = 4 * graph.neighbors.size() + 8 * graph.offsets.size() + 4 * graph.levels.size()
        vectors = self._vectors.nbytes
        return int(storage.codes.size() + links + vectors + self._labels.nbytes) + dict_nbytes(self._slot)

    def add(self, ids: IdsLike, vectors: Vectors) -> None:
        """Add ``vectors`` (n, dim) under ``ids``; a present id is tombstoned and re-added."""
        id_array, vec_array = as_batch(ids, vectors, self.dim)
        if len(id_array) == 0:
            return
        self._kill([i for i in id_array.tolist() if i in self._slot])
        self._append(id_array, vec_array)
        self._maybe_compact()

    def remove(self, ids: IdsLike) -> int:
        """Tombstone ``ids`` (unknown ids are ignored); returns how many were present."""
        present = [i for i in dict.fromkeys(as_id_list(ids)) if i in self._slot]
        self._kill(present)
        self._maybe_compact()
        return len(present)

    def search(self, vectors: Vectors, k: int) -> tuple[Scores, Ids]:
        """Approximate top ``k`` per query, scores exact, padded with ``-inf`` / ``-1``."""
        check_k(k)
        queries = as_queries(vectors, self.dim)
        if len(self._slot) == 0:
            empty = np.zeros((len(queries), 0))
            return padded(empty.astype(np.float32), empty.astype(np.int64), k)
        if self._index.ntotal <= self.exact_below:
            scores, slots = self._exact(queries, k)
        else:
            scores, slots = self._approximate(queries, k)
        return padded(scores, np.where(slots >= 0, self._labels[np.maximum(slots, 0)], -1), k)

    def ids(self) -> Ids:
        """All indexed ids, sorted."""
        return np.sort(np.fromiter(self._slot, dtype=np.int64, count=len(self._slot)))

    def vectors_for(self, ids: IdsLike) -> Vectors:
        """The stored vectors of ``ids`` in that order; ``KeyError`` for an unknown id."""
        slots = [self._slot[i] for i in as_id_list(ids)]
        return self._stored()[slots].copy()

    def save(self, path: Path, generation: int) -> None:
        """Write the slot -> id map, the float32 vectors and the graph (``faiss.serialize_index``)
        to ``path``."""
        ntotal = int(self._index.ntotal)
        write_index_file(
            path,
            kind=self.kind,
            dim=self.dim,
            count=len(self),
            generation=generation,
            meta={**self._options(), "slots": ntotal, "format": FORMAT},
            body=[self._labels[:ntotal], self._vectors[:ntotal], faiss.serialize_index(self._index)],
        )

    @classmethod
    def from_stored(cls, stored: StoredIndex) -> HnswIndex:
        """The index held by a checked index file (the graph is loaded, not rebuilt)."""
        try:
            index = cls(stored.dim, **stored.meta.get("options", {}))
            slots = int(stored.meta["slots"])
        except (TypeError, KeyError, ValueError) as e:
            raise IndexCorrupt(f"hnsw index metadata unusable ({e}); rebuild the index") from e
        if stored.meta.get("format") != FORMAT:
            raise IndexCorrupt("hnsw index file is of an older format; rebuild the index")
        labels, vectors, graph = split_body(
            stored.body, [(np.int64, (slots,)), (np.float32, (slots, stored.dim)), (np.uint8, (-1,))]
        )
        index._restore(labels, vectors, graph, stored.count)
        return index

    # --- search -------------------------------------------------------------------------

    def _approximate(self, queries: Vectors, k: int) -> tuple[Scores, npt.NDArray[np.int64]]:
        size = min(max(self.shortlist, 4 * k), int(self._index.ntotal))
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        params.efSearch = max(self.ef_search, size)
        bits = self._live_bitmap()
        selector = None if bits is None else faiss.IDSelectorBitmap(len(self._labels), faiss.swig_ptr(bits))
        if selector is not None:
            params.sel = selector
        _, shortlist = self._index.search(queries, size, params=params)
        scores, slots = self._rerank(queries, shortlist.astype(np.int64, copy=False), k)
        short = (slots[:, : min(k, len(self))] < 0).any(axis=1)
        if short.any():
            scores[short], slots[short] = padded(*self._exact(queries[short], k), scores.shape[1])
        return scores, slots

    def _rerank(
        self, queries: Vectors, shortlist: npt.NDArray[np.int64], k: int
    ) -> tuple[Scores, npt.NDArray[np.int64]]:
        if len(queries) == 1:  # the common case, without the batch bookkeeping
            row = shortlist[0]
            one = self._vectors[np.maximum(row, 0)] @ queries[0]
            one[row < 0] = -np.inf
            order = np.argsort(-one, kind="stable")[: min(k, len(row))]
            return one[order][None, :], row[order][None, :]
        gathered = self._stored()[np.maximum(shortlist, 0)]
        scores = np.einsum("qsd,qd->qs", gathered, queries)
        scores[shortlist < 0] = -np.inf
        best = top_k(scores, min(k, shortlist.shape[1]))
        return np.take_along_axis(scores, best, axis=1), np.take_along_axis(shortlist, best, axis=1)

    def _exact(self, queries: Vectors, k: int) -> tuple[Scores, npt.NDArray[np.int64]]:
        live = np.flatnonzero(self._labels[: self._index.ntotal] >= 0)
        scores = queries @ self._stored()[live].T
        best = top_k(scores, min(k, len(live)))
        return np.take_along_axis(scores, best, axis=1), live[best].astype(np.int64)

    def _stored(self) -> Vectors:
        """The float32 vectors of the used slots (a view, valid until the next add)."""
        return self._vectors[: int(self._index.ntotal)]

    def _live_bitmap(self) -> npt.NDArray[np.uint8] | None:
        """Packed bits of live slots for the selector; None when no slot is dead."""
        if self.dead_slots == 0:
            return None
        if self._live_bits is None:
            self._live_bits = np.packbits(self._labels >= 0, bitorder="little")
        return self._live_bits

    # --- changes ------------------------------------------------------------------------

    def _append(self, ids: Ids, vectors: Vectors) -> None:
        start = int(self._index.ntotal)
        self._reserve(start + len(ids))
        self._index.add(vectors)
        self._labels[start : start + len(ids)] = ids
        self._vectors[start : start + len(ids)] = vectors
        self._slot.update(zip(ids.tolist(), range(start, start + len(ids)), strict=True))
        self._live_bits = None
        self._huge_pages()

    def _kill(self, ids: list[int]) -> None:
        if ids:
            slots = [self._slot.pop(i) for i in ids]
            self._labels[slots] = -1
            self._live_bits = None

    def _maybe_compact(self) -> None:
        if self.dead_slots > self.rebuild_ratio * max(int(self._index.ntotal), 1):
            self.compact()

    def compact(self) -> None:
        """Rebuild the graph from the live vectors, dropping every tombstone."""
        live = np.flatnonzero(self._labels[: self._index.ntotal] >= 0)
        ids, vectors = self._labels[live].copy(), self._stored()[live].copy()
        self._index = self._new_graph()
        self._labels = np.full(0, -1, dtype=np.int64)
        self._vectors = np.zeros((0, self.dim), dtype=np.float32)
        self._slot = {}
        if len(ids):
            self._append(ids, vectors)

    def _reserve(self, needed: int) -> None:
        capacity = len(self._labels)
        if needed > capacity:
            size = max(needed, capacity + capacity // 2, _MIN_CAPACITY)
            grown = np.full(size, -1, dtype=np.int64)
            grown[:capacity] = self._labels
            self._labels = grown
            vectors = np.zeros((size, self.dim), dtype=np.float32)
            vectors[:capacity] = self._vectors[:capacity]
            self._vectors = vectors

    def _restore(self, labels: Ids, vectors: Vectors, graph: npt.NDArray[np.uint8], count: int) -> None:
        try:
            self._index = faiss.deserialize_index(graph)
        except RuntimeError as e:
            raise IndexCorrupt(f"hnsw graph unreadable ({e}); rebuild the index") from e
        if int(self._index.ntotal) != len(labels) or int(self._index.d) != self.dim:
            raise IndexCorrupt("hnsw graph and id map disagree; rebuild the index")
        self._index.hnsw.efSearch = self.ef_search
        self._labels = np.array(labels)
        self._vectors = np.array(vectors, dtype=np.float32)
        live = np.flatnonzero(labels >= 0)
        self._slot = dict(zip(labels[live].tolist(), live.tolist(), strict=True))
        if len(self._slot) != count or len(live) != count:
            raise IndexCorrupt("hnsw index file repeats an id or miscounts; rebuild the index")
        self._huge_pages()

    def _huge_pages(self) -> None:
        """Ask for huge pages on the graph's links and codes when FAISS has moved a buffer
        or it has grown by a quarter since it was last advised (growth in place can reach
        past the advised range)."""
        storage: Any = faiss.downcast_index(self._index.storage)
        buffers = ((self._index.hnsw.neighbors, 4), (storage.codes, 1))
        previous, self._huge = self._huge, []
        for (vector, itemsize), (was_at, advised) in zip(buffers, previous, strict=True):
            nbytes = int(vector.size()) * itemsize
            address = int(faiss.rev_swig_ptr(vector.data(), vector.size()).ctypes.data) if nbytes else 0
            if nbytes and (address != was_at or nbytes > 1.25 * advised):
                hugepages.advise(address, nbytes)
                advised = nbytes
            self._huge.append((address, advised if nbytes else 0))

    def _new_graph(self) -> Any:
        qtype: Any = faiss.ScalarQuantizer.QT_8bit  # an enum int; faiss's stubs type it as the class
        graph = faiss.IndexHNSWSQ(self.dim, qtype, self.m, faiss.METRIC_INNER_PRODUCT)
        bounds = np.array([[-CODE_RANGE] * self.dim, [CODE_RANGE] * self.dim], dtype=np.float32)
        graph.train(bounds)  # min-max training on the two corners: a fixed code range
        graph.hnsw.efConstruction = self.ef_construction
        graph.hnsw.efSearch = self.ef_search
        return graph

    def _options(self) -> dict[str, Any]:
        return {
            "options": {
                "m": self.m,
                "ef_construction": self.ef_construction,
                "ef_search": self.ef_search,
                "shortlist": self.shortlist,
                "rebuild_ratio": self.rebuild_ratio,
                "exact_below": self.exact_below,
            }
        }
