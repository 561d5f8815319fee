"""The packed store of frozen keys against a plain dict doing the same."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.kpi.frozen import NEVER, FrozenStore

KEYS = st.sampled_from(["v1", "v2", "", "anon_é", "k" * 300, "v10", "v11", "x"])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("put"), KEYS, st.binary(max_size=40), st.integers(0, 40)),
        st.tuples(st.just("pop"), KEYS),
        st.tuples(st.just("scan"), st.integers(0, 45)),
    ),
    max_size=120,
)


@settings(max_examples=300, deadline=None)
@given(OPS)
def test_the_store_holds_what_a_dict_holds(ops: list[tuple]) -> None:
    store = FrozenStore()
    model: dict[str, tuple[bytes, int]] = {}
    order: list[str] = []  # keys in the order they were last put
    for op in ops:
        if op[0] == "put":
            _, key, value, tag = op
            store.put(key, value, tag)
            model[key] = (value, tag)
            if key in order:
                order.remove(key)
            order.append(key)
        elif op[0] == "pop":
            _, key = op
            got = store.pop(op[1])
            want = model.pop(key, None)
            assert got == (None if want is None else want[0])
            if key in order:
                order.remove(key)
        else:
            day = op[1]
            listed = store.tagged_before(day)
            assert listed == [k for k in order if model[k][1] < day]
            for key in listed:  # as the core does: forgotten
                assert store.pop(key) is not None
                del model[key]
                order.remove(key)
            assert store.tagged_before(day) == []
        assert len(store) == len(model)
        assert store.keys() == order
        assert list(store.items()) == [(k, model[k][0]) for k in order]
        for key in ["v1", "v2", "", "anon_é", "k" * 300, "v10", "v11", "x", "absent"]:
            assert (key in store) == (key in model)
            assert store.get(key) == (model[key][0] if key in model else None)
    # the dead bytes never outweigh the live ones by more than the compaction floor
    assert store.dead <= max(4096, len(store.arena) - store.dead)


def test_a_busy_store_keeps_its_array_near_its_live_bytes() -> None:
    store = FrozenStore()
    for round_ in range(20):
        for i in range(2000):
            store.put(f"visitor-{i}", bytes([round_]) * 100, round_)
    assert len(store) == 2000
    live = sum(len(v) + len(k) + 11 for k, v in store.items())
    assert len(store.arena) <= 2 * live + 4096
    assert store.get("visitor-7") == bytes([19]) * 100
    assert store.mask + 1 <= 4 * 2000  # the table: at most four slots per key


@pytest.mark.parametrize(
    ("tags", "day", "listed"),
    [
        ([3, 5, NEVER], 5, ["k0"]),
        ([3, 5, NEVER], 6, ["k0", "k1"]),
        ([3, 5, NEVER], 3, []),
        ([NEVER, NEVER], 10**9, []),
    ],
)
def test_keys_tagged_before_a_day(tags: list[int], day: int, listed: list[str]) -> None:
    store = FrozenStore()
    for i, tag in enumerate(tags):
        store.put(f"k{i}", b"x", tag)
    assert store.tagged_before(day) == listed


def test_a_key_too_long_to_pack_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be frozen"):
        FrozenStore().put("k" * 70_000, b"x")
