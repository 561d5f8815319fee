"""``stream_app/worker/memory.py``: freed memory goes back to the system (glibc, which the
worker's Debian image and this machine use)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_app.worker import memory

pytestmark = pytest.mark.skipif(memory._LIBC is None, reason="not glibc")
MB = 1024 * 1024


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_large_buffers_are_unmapped_when_freed() -> None:
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
    assert before - rss_mb() > 32
    assert len(keep) == 48


def test_trim_returns_freed_heap_pages() -> None:
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
    assert before - rss_mb() > 20
    assert len(keep) == 800


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
