"""Huge pages for the HNSW graph's FAISS buffers: asked for, granted where the kernel can,
and never a change to the data."""

from __future__ import annotations

import mmap
import sys
from pathlib import Path

import faiss
import numpy as np
import pytest

from facedocket.matching import hugepages
from facedocket.matching.hnsw import HnswIndex
from facedocket.matching.index import load_index


def _huge_kib(address: int) -> int:
    """AnonHugePages (KiB) of the mapping of this process that holds the first 2 MB
    boundary at or after ``address`` (advising a range splits its mapping there)."""
    address = -(-address // hugepages.HUGE_PAGE) * hugepages.HUGE_PAGE
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split()[0]
        if "-" in head and ":" not in head:
            low, high = (int(part, 16) for part in head.split("-"))
            inside = low <= address < high
        elif inside and head == "AnonHugePages:":
            return int(line.split()[1])
    return 0


def _plain_buffer(nbytes: int) -> tuple[mmap.mmap, np.ndarray]:
    """Anonymous memory no allocator has advised (NumPy asks for huge pages on its own)."""
    region = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    array = np.frombuffer(region, dtype=np.uint8)
    array[:] = np.arange(nbytes, dtype=np.uint64).astype(np.uint8)
    return region, array


def test_a_range_smaller_than_a_huge_page_is_left_alone() -> None:
    region, array = _plain_buffer(1 << 20)
    assert hugepages.advise(array.ctypes.data, array.nbytes) is False
    del array
    region.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="transparent huge pages are a Linux feature")
def test_advise_backs_the_range_with_huge_pages_and_keeps_the_data() -> None:
    region, array = _plain_buffer(16 << 20)
    before = array.copy()
    granted = hugepages.advise(array.ctypes.data, array.nbytes)
    if not granted:
        pytest.skip("this kernel does not collapse pages on request (MADV_COLLAPSE, Linux 6.1+)")
    assert _huge_kib(array.ctypes.data) >= 2048 * 6  # 16 MB holds at least 7 aligned 2 MB pages
    np.testing.assert_array_equal(array, before)
    del array
    region.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="transparent huge pages are a Linux feature")
def test_a_loaded_hnsw_graph_sits_on_huge_pages(tmp_path: Path) -> None:
    region, probe = _plain_buffer(4 << 20)
    if not hugepages.advise(probe.ctypes.data, probe.nbytes):
        pytest.skip("this kernel does not collapse pages on request (MADV_COLLAPSE, Linux 6.1+)")
    del probe
    region.close()
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((50_000, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = HnswIndex(128, m=16, ef_construction=32, exact_below=0)
    index.add(np.arange(50_000), vectors)  # links and codes over 6 MB each
    index.save(tmp_path / "graph.fdindex", generation=1)
    loaded, _ = load_index(tmp_path / "graph.fdindex")
    assert isinstance(loaded, HnswIndex)
    (links, _), (codes, _) = loaded._huge  # FAISS's link and code buffers
    assert _huge_kib(links) > 0 and _huge_kib(codes) > 0
    _, found = loaded.search(vectors[:50], k=1)
    np.testing.assert_array_equal(found[:, 0], np.arange(50))


def _buffer_bytes(index: HnswIndex) -> list[int]:
    storage = faiss.downcast_index(index._index.storage)
    return [int(index._index.hnsw.neighbors.size()) * 4, int(storage.codes.size())]


def test_a_growing_graph_is_advised_again_only_when_its_buffers_move_or_grow_by_a_quarter() -> None:
    """Whatever the allocator does, after every add each buffer is either advised at its
    current size (it moved, or grew by more than a quarter) or left as it was."""
    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((4_000, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = HnswIndex(128, m=8, ef_construction=16, exact_below=0)
    index.add(np.arange(2_000), vectors[:2_000])
    assert [nbytes for _, nbytes in index._huge] == _buffer_bytes(index)
    kept = advised = 0
    batches = [[i] for i in range(2_000, 2_010)] + [list(range(2_010, 4_000))]
    for batch in batches:
        before = list(index._huge)
        index.add(batch, vectors[batch])
        for (address, nbytes), (was_at, was_advised), size in zip(
            index._huge, before, _buffer_bytes(index), strict=True
        ):
            if address == was_at and size <= 1.25 * was_advised:
                assert nbytes == was_advised
                kept += 1
            else:
                assert nbytes == size
                advised += 1
    assert kept > 0 and advised > 0  # both rules were exercised
