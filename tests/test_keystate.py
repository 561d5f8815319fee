"""Per-key bookkeeping (:mod:`stream_app.kpi.keystate`): the compact state decides exactly
as the plain one it replaced (ids as strings in a dict per role), packed or not, across a
record round trip, and loads the records of that earlier version."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.exposition import render
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.keystate import (
    PACKED_MAX,
    RECORD,
    IdIndex,
    KeyState,
    Layout,
    Outcome,
    Window,
    day_bytes,
    id_hash,
)
from stream_app.kpi.settings import KpiSettings
from tests.helpers import ev

LAYOUT = Layout(["product", "billing"], ["session_started", "invoice_paid"], ["usage"])
HORIZON = 7


@dataclass
class PlainState:
    """The plain bookkeeping, the reference: ids as strings in a dict per role (main at
    fb1b3ce, and since then a late id older than the horizon is remembered too, until
    the role's latest day moves on)."""

    seen: dict[str, dict[str, int]] = field(default_factory=dict)
    max_day: dict[str, int] = field(default_factory=dict)

    def admit(self, role: str, event_id: str, day: int) -> Outcome:
        seen = self.seen.setdefault(role, {})
        if event_id in seen:
            return Outcome.DUPLICATE
        latest = self.max_day.get(role)
        if latest is None:
            latest = self.max_day[role] = day
        elif day > latest:
            latest = self.max_day[role] = day
            seen = self.seen[role] = {k: d for k, d in seen.items() if d >= day - HORIZON}
        seen[event_id] = day
        return Outcome.APPLIED

    def record(self) -> dict[str, object]:
        return {"p": 0, "s": self.seen, "o": {}, "c": {}, "d": 0, "m": self.max_day, "g": {}}


def _admit(state: KeyState, role: str, event_id: str, day: int) -> Outcome:
    return state.admit(LAYOUT.window_cell(role), event_id, day, HORIZON, None, role)


events = st.lists(
    st.tuples(
        st.sampled_from(["product", "billing"]),
        st.integers(min_value=0, max_value=3 * PACKED_MAX).map(lambda i: f"e{i}"),
        st.integers(min_value=20_000, max_value=20_030),
    ),
    max_size=400,
)


@settings(max_examples=200, deadline=None)
@given(first=events, then=events)
def test_same_outcomes_as_the_plain_state_and_after_a_record_round_trip(
    first: list[tuple[str, str, int]], then: list[tuple[str, str, int]]
) -> None:
    plain, compact = PlainState(), KeyState(LAYOUT, "acme")
    for role, event_id, day in first:
        assert _admit(compact, role, event_id, day) is plain.admit(role, event_id, day)
    record = orjson.loads(orjson.dumps(compact.to_record(0, {})))
    restored = KeyState.from_record(LAYOUT, "acme", record)
    from_old = KeyState.from_record(LAYOUT, "acme", orjson.loads(orjson.dumps(plain.record())))
    for role, event_id, day in then:
        expected = plain.admit(role, event_id, day)
        assert _admit(compact, role, event_id, day) is expected
        assert _admit(restored, role, event_id, day) is expected
        assert _admit(from_old, role, event_id, day) is expected


def test_many_ids_of_one_day_move_from_packed_bytes_to_an_index() -> None:
    state = KeyState(LAYOUT, "acme")
    for i in range(PACKED_MAX + 10):
        assert _admit(state, "product", f"e{i}", 20_000) is Outcome.APPLIED
    window = state.windows[0]
    assert window is not None and type(window.ids) is IdIndex
    assert len(window.ids) == PACKED_MAX + 10
    assert all(_admit(state, "product", f"e{i}", 20_000) is Outcome.DUPLICATE for i in range(74))
    assert state.duplicates == PACKED_MAX + 10
    assert _admit(state, "product", "e0", 20_000 + HORIZON + 1) is Outcome.DUPLICATE
    assert _admit(state, "product", "new", 20_000 + HORIZON + 1) is Outcome.APPLIED
    assert _admit(state, "product", "e1", 20_000 + HORIZON + 1) is Outcome.APPLIED  # forgotten


def _records(days: dict[bytes, int]) -> bytes:
    return b"".join(h + day_bytes(d) for h, d in days.items())


@given(
    st.lists(st.tuples(st.integers(0, 40), st.integers(20_000, 20_012)), min_size=PACKED_MAX + 1),
    st.lists(st.integers(20_000, 20_012), max_size=3),
)
def test_an_index_packs_the_records_of_its_dict_in_order(
    adds: list[tuple[int, int]], cutoffs: list[int]
) -> None:
    """Whatever comes (a hash again with another day, forgetting), the packed records an
    index keeps for its dump are its dict's records in the dict's order."""
    h = [id_hash(f"e{i}") for i in range(41)]
    first = b"".join(h[i % 41] + day_bytes(d) for i, d in enumerate(range(20_000, 20_000 + 3)))
    index = IdIndex(first + first[:RECORD])  # a record twice
    assert bytes(index.packed) == _records(index.days) == first
    for n, (i, day) in enumerate(adds):
        index.add(h[i], day)
        assert bytes(index.packed) == _records(index.days)
        if n % 7 == 0 and cutoffs:
            index, oldest = index.kept(cutoffs[n % len(cutoffs)], 20_012)
            assert bytes(index.packed) == _records(index.days)
            assert oldest == min(index.days.values(), default=20_012)


def test_a_hash_found_across_two_packed_records_is_not_a_match() -> None:
    a, b = bytes(range(8)), bytes(range(8, 16))
    window = Window(20_000, a + (20_000).to_bytes(4, "little") + b + (20_000).to_bytes(4, "little"))
    straddling = a[4:] + (20_000).to_bytes(4, "little")  # bytes 4..11: across two fields
    assert a in window and b in window
    assert straddling not in window


def test_the_id_hash_is_stable_across_processes() -> None:
    """Pinned values (a different hash would turn every remembered id of a restored state
    into a stranger), computed again in a process with another ``PYTHONHASHSEED``."""
    assert id_hash("evt-1").hex() == "517f7d200d98f32f"
    assert id_hash("é").hex() == "f7940a006cf10cb3"
    code = "from stream_app.kpi.keystate import id_hash; print(id_hash('evt-1').hex())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "517f7d200d98f32f"


@pytest.mark.parametrize("offset", [None, 5])
def test_a_record_of_the_earlier_version_loads(offset: int | None) -> None:
    record = {
        "p": 0,
        "s": {"product": {"e1": 20_000, "e2": 20_003}},
        "o": {} if offset is None else {"product": offset},
        "c": {"session_started": 2},
        "d": 1,
        "m": {"product": 20_003},
        "g": {},
    }
    state = KeyState.from_record(LAYOUT, "acme", record)
    assert state.count_map() == {"session_started": 2} and state.duplicates == 1
    assert _admit(state, "product", "e1", 20_003) is Outcome.DUPLICATE
    assert _admit(state, "product", "e3", 20_003) is Outcome.APPLIED
    if offset is not None:
        assert (
            state.admit(LAYOUT.window_cell("product"), "e9", 20_003, HORIZON, offset, "product")
            is Outcome.REDELIVERED
        )
        assert (
            state.admit(LAYOUT.window_cell("product"), "e9", 20_003, HORIZON, offset + 1, "product")
            is Outcome.APPLIED
        )


def _old_form(record: dict[str, object], ids: dict[str, dict[str, int]]) -> dict[str, object]:
    """A record as main (fb1b3ce) wrote it: the ids themselves per role in ``s``."""
    old = {k: v for k, v in record.items() if k != "h"}
    old["s"] = ids
    return old


def test_a_core_restored_from_records_of_the_earlier_version_counts_copies_once() -> None:
    day = 20_605  # 2026-06-01
    messages = [
        ("product", ev(eid="p1", ts="2026-06-01T10:00:00Z", user_id="u1")),
        ("product", ev(eid="p2", ts="2026-06-01T10:05:00Z", user_id="u2")),
        (
            "billing",
            ev("invoice_paid", eid="b1", ts="2026-06-01T10:06:00Z", amount=100, currency="USD"),
        ),
        (
            "web",
            orjson.dumps(
                {
                    "event_id": "w1",
                    "type": "page_viewed",
                    "ts": "2026-06-01T10:07:00Z",
                    "visitor_id": "v1",
                    "path": "/",
                }
            ),
        ),
    ]
    ids = {
        "account_id:acme": {"product": {"p1": day, "p2": day}, "billing": {"b1": day}},
        "visitor_id:v1": {"web": {"w1": day}},
    }
    first = PartitionCore(KpiSettings())
    for role, raw in messages:
        assert first.ingest(raw, role)[0] is Outcome.APPLIED
    records = dict(first.take_dirty())
    assert set(records) == set(ids)
    restored = PartitionCore(KpiSettings())
    for name, record in records.items():
        assert record is not None
        restored.load_key(name, orjson.loads(orjson.dumps(_old_form(record, ids[name]))))
    for role, raw in messages:
        assert restored.ingest(raw, role)[0] is Outcome.DUPLICATE
    as_of = datetime.fromisoformat("2026-06-01T12:00:00+00:00")
    for core in (first, restored):
        core.duplicates = 0  # the copies just sent to ``restored`` only
    assert render([restored], as_of) == render([first], as_of)


@pytest.mark.parametrize(
    ("arrivals", "expected"),
    [
        # a late event older than the horizon, then its copy (a retried batch): one
        ([(20_010, "new"), (20_000, "late"), (20_000, "late")], ["applied"] * 2 + ["duplicate"]),
        # the copy after the latest day moved on: the late id is forgotten with the others
        (
            [(20_010, "new"), (20_000, "late"), (20_011, "next"), (20_000, "late")],
            ["applied"] * 4,
        ),
        # within the horizon, kept across the move
        (
            [(20_010, "a"), (20_005, "b"), (20_011, "c"), (20_005, "b")],
            ["applied"] * 3 + ["duplicate"],
        ),
    ],
)
def test_a_late_id_beyond_the_horizon_is_known_until_the_latest_day_moves_on(
    arrivals: list[tuple[int, str]], expected: list[str]
) -> None:
    state = KeyState(LAYOUT)
    got = [_admit(state, "product", eid, day).value for day, eid in arrivals]
    assert got == expected


@pytest.mark.parametrize(
    ("roles", "stored_as"),
    [(["web"], int), (["product", "billing"], dict)],
)
def test_the_offsets_of_a_key_round_trip_whatever_their_form(
    roles: list[str], stored_as: type
) -> None:
    """A key of a one-role layout (visitors, sources) keeps its highest applied offset as
    an int, others a dict role -> offset; both write and read the same record, and a
    record of an earlier version (always a dict) loads into the compact form."""
    layout = Layout(roles, ["page_viewed"], [], field="k")
    cell = layout.window_cell(roles[0])
    state = KeyState(layout, "k1")
    assert state.admit(cell, "e1", 20_000, HORIZON, 10, roles[0]) is Outcome.APPLIED
    assert state.admit(cell, "e2", 20_000, HORIZON, 12, roles[0]) is Outcome.APPLIED
    assert state.admit(cell, "e3", 20_000, HORIZON, 11, roles[0]) is Outcome.REDELIVERED
    assert type(state.offsets) is stored_as
    assert state.offset_map() == {roles[0]: 12}
    record = state.to_record(0, {})
    assert record["o"] == {roles[0]: 12}
    back = KeyState.from_record(layout, "k1", orjson.loads(orjson.dumps(record)))
    assert type(back.offsets) is stored_as and back.offset_map() == {roles[0]: 12}
    assert back.admit(cell, "e4", 20_000, HORIZON, 12, roles[0]) is Outcome.REDELIVERED
    assert back.admit(cell, "e4", 20_000, HORIZON, 13, roles[0]) is Outcome.APPLIED
    assert back.to_record(0, {})["o"] == {roles[0]: 13}
