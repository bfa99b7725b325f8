"""Back large in-memory buffers with 2 MB pages (Linux transparent huge pages), best effort.

An HNSW search reads about 15,000 random rows of a 1M-template graph; with 4 KB pages
nearly every read also misses the TLB. NumPy already asks for huge pages for its large
arrays, but FAISS keeps the graph's links and codes in plain ``malloc`` memory.
:func:`advise` marks such a range ``MADV_HUGEPAGE`` and collapses the pages already there
into huge ones (``MADV_COLLAPSE``, Linux 6.1 and later). Where the platform or kernel
cannot, it changes nothing and says so with its return value; the data is never touched.

Example (whether the kernel obliged is the return value; tests/matching/test_hugepages.py
checks ``/proc/self/smaps`` where it does)::

    buffer = np.ones(8 << 20, dtype=np.uint8)
    collapsed = advise(buffer.ctypes.data, buffer.nbytes)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys
from collections.abc import Callable

HUGE_PAGE = 2 << 20
MADV_HUGEPAGE = 14
MADV_COLLAPSE = 25


@functools.cache
def _madvise() -> Callable[[int, int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    madvise = libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    madvise.restype = ctypes.c_int
    return madvise


def advise(address: int, nbytes: int) -> bool:
    """Ask for huge pages on the whole 2 MB pages inside ``[address, address + nbytes)``
    and collapse them now; True when the collapse succeeded."""
    madvise = _madvise()
    start = -(-address // HUGE_PAGE) * HUGE_PAGE
    end = (address + nbytes) // HUGE_PAGE * HUGE_PAGE
    if madvise is None or end <= start:
        return False
    madvise(start, end - start, MADV_HUGEPAGE)
    return bool(madvise(start, end - start, MADV_COLLAPSE) == 0)
