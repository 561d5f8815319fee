"""``stream_app.murmur2`` (compiled by mypyc when the build is current) against aiokafka's
murmur2, over arbitrary bytes: the compiled module as the worker imports it, and the
``.py`` source loaded on its own (the pure path, whatever the build)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from types import ModuleType

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import example, given
from hypothesis import strategies as st

import stream_app.murmur2 as served
from stream_app import compiled
from stream_app.compiled import ROOT


def _pure() -> ModuleType:
    """The plain ``.py`` module, loaded under another name (never the compiled build)."""
    spec = importlib.util.spec_from_file_location(
        "stream_app_murmur2_pure", ROOT / "stream_app" / "murmur2.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PURE = _pure()
PATHS: dict[str, Callable[[bytes], int]] = {"served": served.murmur2, "pure": PURE.murmur2}


def test_the_pure_copy_is_plain_python() -> None:
    assert PURE.__file__ is not None and PURE.__file__.endswith(".py")


def test_a_current_build_serves_the_compiled_hash() -> None:
    if not compiled.is_compiled():
        pytest.skip(f"no current compiled build: {compiled.active()}")
    assert served.__file__ is not None and not served.__file__.endswith(".py")


@pytest.mark.parametrize("path", sorted(PATHS))
@given(data=st.binary(max_size=300))
@example(data=b"")
@example(data=b"\xff" * 7)
@example(data=b"21")
def test_murmur2_is_aiokafkas(path: str, data: bytes) -> None:
    assert PATHS[path](data) == aiokafka_murmur2(data)


@pytest.mark.parametrize(
    ("key", "java"),
    # Kafka's UtilsTest.testMurmur2: Java's signed int, read unsigned here
    [
        (b"21", -973932308),
        (b"foobar", -790332482),
        (b"a-little-bit-long-string", -985981536),
        (b"a-little-bit-longer-string", -1486304829),
        (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
        (b"abc", 479470107),
    ],
)
def test_kafkas_known_values(key: bytes, java: int) -> None:
    assert served.murmur2(key) == PURE.murmur2(key) == java & 0xFFFFFFFF


@given(st.binary(min_size=1, max_size=64), st.integers(1, 64))
def test_partition_of_is_the_default_partitioners(key: bytes, partitions: int) -> None:
    ids = list(range(partitions))
    expected = DefaultPartitioner()(key, ids, ids)
    assert served.partition_of(key, partitions) == PURE.partition_of(key, partitions) == expected
