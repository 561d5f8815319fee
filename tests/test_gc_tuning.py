"""The collector settings of the long runs (stream_app/gc_tuning.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from stream_app.gc_tuning import THRESHOLDS, tune_for_streaming


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.parametrize(
    ("env", "applied"),
    [(None, True), ("", True), ("0", True), ("1", False), ("true", False), ("YES", False)],
)
def test_thresholds_unless_defaults_are_asked_for(
    monkeypatch: pytest.MonkeyPatch, restore_gc: None, env: str | None, applied: bool
) -> None:
    gc.set_threshold(700, 10, 10)
    if env is None:
        monkeypatch.delenv("CS_GC_DEFAULTS", raising=False)
    else:
        monkeypatch.setenv("CS_GC_DEFAULTS", env)
    assert tune_for_streaming() is applied
    assert gc.get_threshold() == (THRESHOLDS if applied else (700, 10, 10))
    assert (gc.get_freeze_count() > 0) is applied


def test_cycles_are_still_collected(monkeypatch: pytest.MonkeyPatch, restore_gc: None) -> None:
    """Rarer, not never: a garbage cycle made after tuning is freed by a collection."""
    import weakref

    monkeypatch.delenv("CS_GC_DEFAULTS", raising=False)
    tune_for_streaming()

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # type: ignore[attr-defined]
    ref = weakref.ref(a)
    del a, b
    assert ref() is not None
    gc.collect()
    assert ref() is None
