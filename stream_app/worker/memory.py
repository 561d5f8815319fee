"""Giving freed memory back to the system (glibc, or jemalloc when the worker runs on it:
:mod:`stream_app.allocator`; elsewhere these do nothing).

What a worker allocates while it consumes is mostly short-lived: fetched record batches
(up to 1 MB a partition), the records built from them, encoded state records and the
producer's batches. Two glibc behaviours keep that memory in the process after it is freed:

- glibc serves an allocation above ``M_MMAP_THRESHOLD`` (128 KB) with its own ``mmap``,
  unmapped when freed, but raises that threshold to the size of each such block freed (up
  to 32 MB): after the first fetch buffers are freed, every later 1 MB buffer comes from
  the heap, whose freed space glibc keeps. :func:`tune_allocator` fixes the threshold.
- Freed heap space below the top of the heap stays resident until ``malloc_trim``
  returns its whole pages. :func:`release_free_memory` calls it; it walks the heap (tens of
  ms for a few hundred MB), so the worker calls it (:class:`Trimmer`, from the state flush
  before each offset commit, never per batch) after loading state at a rebalance; once the
  worker has caught up after a backlog (a flush finds every fetched offset committed and at
  least :data:`BACKLOG_MESSAGES` handled since the last trim), so that what the backlog's
  fetches, acknowledgements and state writes left behind goes back at once; and otherwise
  at most once every :data:`TRIM_EVERY_S`. "Caught up" compares committed offsets with the
  highwater, so it holds once no message has arrived for a commit interval (a backlog
  applied, traffic paused): a worker under steady traffic is never caught up at a flush and
  trims once a minute. A trim of a ~400 MB heap took 65-105 ms on a loaded 2-core machine.

Neither lowers the peak; they lower what stays resident afterwards. Objects Python's own
allocator holds (arenas of small objects) are returned by Python when an arena is empty,
whatever this module does. On jemalloc (``CS_ALLOCATOR``, the default when it is
installed) every object is jemalloc's, and :func:`release_free_memory` asks it to return
the unused pages of all its arenas at once instead (``arena.<all>.purge``), at the same
moments.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from typing import Any

from stream_app.allocator import on_jemalloc

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
#: blocks this big or bigger are mapped on their own and unmapped when freed
MMAP_THRESHOLD_BYTES = 256 * 1024
#: at most one ``malloc_trim`` this often (seconds), besides the one after loading state
#: and the one after a backlog
TRIM_EVERY_S = 60.0
#: a flush that finds the worker caught up trims when it has handled this many messages
#: since the last trim (a backlog, or a minute's worth of light live traffic) ...
BACKLOG_MESSAGES = 1000
#: ... and when at least this many times as long as the last trim took has passed since
#: (a live worker that is caught up at every flush spends at most ~1/TRIM_SHARE trimming)
TRIM_SHARE = 50


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
#: jemalloc's command returning the unused pages of every arena (``MALLCTL_ARENAS_ALL``)
PURGE_ALL = b"arena.4096.purge"


def _jemalloc() -> Any | None:
    """This process's symbols when it allocates with jemalloc (its ``mallctl``)."""
    return ctypes.CDLL(None) if on_jemalloc() else None


_JEMALLOC = _jemalloc()
#: the allocator this process runs on (``/progress`` says it)
ALLOCATOR = "python" if _JEMALLOC is None else "jemalloc"


def tune_allocator() -> bool:
    """Fix glibc's mmap threshold at :data:`MMAP_THRESHOLD_BYTES` (see the module's
    docstring). True when it was set (never on jemalloc: glibc does not allocate then)."""
    if _LIBC is None or _JEMALLOC is not None:
        return False
    return bool(_LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def release_free_memory() -> bool:
    """``malloc_trim(0)``: return the heap's free pages to the system. True when some
    memory was returned. On jemalloc: its purge of every arena; True when it ran."""
    if _JEMALLOC is not None:
        return _JEMALLOC.mallctl(PURGE_ALL, None, None, None, ctypes.c_size_t(0)) == 0
    if _LIBC is None:
        return False
    return bool(_LIBC.malloc_trim(0))


class Trimmer:
    """Calls :func:`release_free_memory` when asked with ``force``; when the worker is
    ``caught_up`` after :data:`BACKLOG_MESSAGES` handled since the last trim (no sooner
    than :data:`TRIM_SHARE` times the last trim's duration after it); or when
    :data:`TRIM_EVERY_S` have passed since the last call.

    ``caught_up`` (every message fetched so far applied and its offset committed) is the
    caller's to tell; ``handled`` is its running count of messages handled. The last trim
    made while caught up is kept (:meth:`progress`): what the worker then holds is its
    state, with no backlog's leftovers (the benchmark's held-memory figure waits on it)."""

    def __init__(self, every_s: float = TRIM_EVERY_S, backlog: int = BACKLOG_MESSAGES) -> None:
        self.every_s = every_s
        self.backlog = backlog
        self.last = time.monotonic()
        self.took = 0.0  # seconds the last trim took
        self.handled_at_last = 0  # ``handled`` at the last trim
        #: wall-clock time and ``handled`` of the last trim made while caught up
        self.caught_up_at: float | None = None
        self.caught_up_handled = 0

    def maybe(
        self, force: bool = False, handled: int | None = None, caught_up: bool = False
    ) -> bool:
        now = time.monotonic()
        after_backlog = (
            caught_up
            and handled is not None
            and handled - self.handled_at_last >= self.backlog
            and now - self.last >= TRIM_SHARE * self.took
        )
        if not (force or after_backlog or now - self.last >= self.every_s):
            return False
        released = release_free_memory()
        self.last = time.monotonic()
        self.took = self.last - now
        if handled is not None:
            self.handled_at_last = handled
            if caught_up:
                self.caught_up_at = time.time()
                self.caught_up_handled = handled
        return released

    def progress(self) -> dict[str, float | int | None]:
        """The last trim made while caught up: ``trimmed_at`` (epoch s, None: none yet)
        and ``trimmed_handled`` (messages handled by then)."""
        return {"trimmed_at": self.caught_up_at, "trimmed_handled": self.caught_up_handled}
