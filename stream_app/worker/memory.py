"""Giving freed memory back to the system (glibc only; elsewhere these do nothing).

What a worker allocates while it consumes is mostly short-lived: fetched record batches
(up to 1 MB a partition), the records built from them, encoded state records and the
producer's batches. Two glibc behaviours keep that memory in the process after it is freed:

- glibc serves an allocation above ``M_MMAP_THRESHOLD`` (128 KB) with its own ``mmap``,
  unmapped when freed, but raises that threshold to the size of each such block freed (up
  to 32 MB): after the first fetch buffers are freed, every later 1 MB buffer comes from
  the heap, whose freed space glibc keeps. :func:`tune_allocator` fixes the threshold.
- Freed heap space below the top of the heap stays resident until ``malloc_trim``
  returns its whole pages. :func:`release_free_memory` calls it; it walks the heap (tens of
  ms for a few hundred MB), so the worker calls it after loading state at a rebalance and
  at most once every :data:`TRIM_EVERY_S` otherwise, never per batch.

Neither lowers the peak; they lower what stays resident afterwards. Objects Python's own
allocator holds (arenas of small objects) are returned by Python when an arena is empty,
whatever this module does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from typing import Any

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
#: blocks this big or bigger are mapped on their own and unmapped when freed
MMAP_THRESHOLD_BYTES = 256 * 1024
#: at most one ``malloc_trim`` this often (seconds), besides the one after loading state
TRIM_EVERY_S = 60.0


def _glibc() -> Any | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim  # noqa: B018 - glibc only: musl and others lack it
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def tune_allocator() -> bool:
    """Fix glibc's mmap threshold at :data:`MMAP_THRESHOLD_BYTES` (see the module's
    docstring). True when it was set."""
    if _LIBC is None:
        return False
    return bool(_LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def release_free_memory() -> bool:
    """``malloc_trim(0)``: return the heap's free pages to the system. True when some
    memory was returned."""
    if _LIBC is None:
        return False
    return bool(_LIBC.malloc_trim(0))


class Trimmer:
    """Calls :func:`release_free_memory` when asked with ``force``, or when
    :data:`TRIM_EVERY_S` have passed since the last call."""

    def __init__(self, every_s: float = TRIM_EVERY_S) -> None:
        self.every_s = every_s
        self.last = time.monotonic()

    def maybe(self, force: bool = False) -> bool:
        now = time.monotonic()
        if not force and now - self.last < self.every_s:
            return False
        self.last = now
        return release_free_memory()
