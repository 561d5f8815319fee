"""``stream_app/worker/memory.py``: freed memory goes back to the system (glibc, which the
worker's Debian image and this machine use)."""

from __future__ import annotations

import pytest

from stream_app.worker import memory
from tests.helpers import in_fresh_interpreter, rss_mb

pytestmark = pytest.mark.skipif(memory._LIBC is None, reason="not glibc")
MB = 1024 * 1024


def fresh(name: str) -> float:
    """What ``name`` (a function of this module) returns, run in a new Python process. What
    glibc does with a block depends on the heap's free space: in the test session's
    process, after hundreds of tests, a 1 MB request is served from a freed heap chunk and
    no threshold applies (a full run saw 5 MB of 48 come back)."""
    return float(in_fresh_interpreter(f"tests.test_worker_memory:{name}")[-1])


def large_buffers_freed_mb() -> float:
    """RSS given back when 48 buffers of 1 MB are freed, the threshold fixed."""
    assert memory.tune_allocator()
    warm = bytes(2 * MB)  # freed: without the fix, glibc raises its threshold above 2 MB
    del warm
    # 1 MB buffers, each followed by a kept 100 KB block (on the heap, after the buffer:
    # the heap cannot shrink from its top): with the threshold fixed, each buffer is its
    # own mapping, unmapped when freed (without it, about a third came back here)
    buffers, keep = [], []
    for i in range(48):
        buffers.append(bytes(MB) + bytes([i]))
        keep.append(bytes(100_000) + bytes([i]))
    before = rss_mb()
    del buffers
    assert len(keep) == 48
    return before - rss_mb()


def trimmed_heap_mb() -> float:
    """RSS given back by ``malloc_trim`` after 39,200 of 40,000 heap blocks are freed."""
    # 1.5 KB blocks (glibc's heap, not Python's small-object arenas), one kept in 50:
    # freed, they leave holes that only malloc_trim gives back
    blocks: list[bytes] = []
    keep: list[bytes] = []
    for i in range(40_000):
        block = bytes(1500) + i.to_bytes(4, "little")
        (keep if i % 50 == 0 else blocks).append(block)
    del block
    blocks.clear()
    before = rss_mb()
    assert memory.release_free_memory()
    assert len(keep) == 800
    return before - rss_mb()


def test_large_buffers_are_unmapped_when_freed() -> None:
    assert fresh("large_buffers_freed_mb") > 32


def test_trim_returns_freed_heap_pages() -> None:
    assert fresh("trimmed_heap_mb") > 20


def test_trimmer_waits_its_interval_unless_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def release() -> bool:
        calls.append(1)
        return True

    monkeypatch.setattr(memory, "release_free_memory", release)
    trimmer = memory.Trimmer(every_s=3600)
    assert not trimmer.maybe()
    assert trimmer.maybe(force=True)
    assert not trimmer.maybe()
    trimmer.last -= 3600
    assert trimmer.maybe()
    assert len(calls) == 2


def test_trimmer_trims_once_caught_up_after_a_backlog(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def release() -> bool:
        calls.append(1)
        return True

    monkeypatch.setattr(memory, "release_free_memory", release)
    monkeypatch.setattr(memory, "TRIM_SHARE", 0)  # its own test below
    trimmer = memory.Trimmer(every_s=3600, backlog=1000)
    assert trimmer.progress() == {"trimmed_at": None, "trimmed_handled": 0}
    assert not trimmer.maybe(handled=5000, caught_up=False)  # still behind: no trim
    assert not trimmer.maybe(handled=999, caught_up=True)  # caught up, but no backlog
    assert trimmer.maybe(handled=5000, caught_up=True)  # caught up after 5000 messages
    assert trimmer.progress()["trimmed_handled"] == 5000
    assert trimmer.progress()["trimmed_at"] is not None
    assert not trimmer.maybe(handled=5500, caught_up=True)  # 500 since: not a backlog
    assert trimmer.maybe(handled=6000, caught_up=True)
    assert len(calls) == 2


def test_a_caught_up_trim_waits_share_times_the_last_ones_duration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memory, "release_free_memory", lambda: True)
    trimmer = memory.Trimmer(every_s=3600, backlog=1)
    assert trimmer.maybe(handled=10, caught_up=True)
    trimmer.took = 1.0  # the last trim took 1 s: the next one waits TRIM_SHARE s
    assert not trimmer.maybe(handled=20, caught_up=True)
    trimmer.last -= memory.TRIM_SHARE
    assert trimmer.maybe(handled=20, caught_up=True)
    assert trimmer.progress()["trimmed_handled"] == 20


def test_a_periodic_or_forced_trim_while_behind_is_not_a_caught_up_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memory, "release_free_memory", lambda: True)
    monkeypatch.setattr(memory, "TRIM_SHARE", 0)
    trimmer = memory.Trimmer(every_s=3600, backlog=1000)
    assert trimmer.maybe(force=True, handled=4000, caught_up=False)
    trimmer.last -= 3600
    assert trimmer.maybe(handled=8000, caught_up=False)
    assert trimmer.progress() == {"trimmed_at": None, "trimmed_handled": 0}
    # the backlog counts from the last trim of any kind
    assert not trimmer.maybe(handled=8500, caught_up=True)
    assert trimmer.maybe(handled=9000, caught_up=True)
    assert trimmer.progress()["trimmed_handled"] == 9000
