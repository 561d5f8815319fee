"""``PartitionCore.ingest_line``, replay's per-line path: the same outcome, detail, counts
and exposition as ``ingest(raw, now=..., until=...)`` for any stream (valid events,
duplicates, junk, events past ``until`` or too late), with the decoded line handed over
or not."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from stream_app.contract import Rejection
from stream_app.exposition import render
from stream_app.kpi.core import Outcome, PartitionCore
from stream_app.kpi.settings import KpiSettings
from tests.test_properties import AS_OF, T0, valid_event

JUNK = [
    b"{",
    b"[1]",
    b"null",
    b'{"type":"session_started"}',
    b'{"type":"nope","account_id":"x"}',
    b'{"event_id":"j","type":"session_started","ts":"2026-05-02T00:00:00","account_id":"a",'
    b'"user_id":"u"}',
]


def _view(outcome: Outcome, detail: Any) -> tuple[Outcome, object]:
    if isinstance(detail, Rejection):
        return outcome, (detail.reason, detail.detail)
    return outcome, dict(detail.__dict__)


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(valid_event(), min_size=1, max_size=30),
    rnd=st.randoms(use_true_random=False),
    clock=st.sampled_from(["until", "latest"]),
    lateness=st.sampled_from([90, 2]),
    decode=st.booleans(),
)
def test_ingest_line_equals_ingest(
    events: list[dict[str, Any]], rnd: random.Random, clock: str, lateness: int, decode: bool
) -> None:
    lines = [orjson.dumps({**e, "event_id": f"e{i % 20}"}) for i, e in enumerate(events)]
    lines += JUNK
    rnd.shuffle(lines)
    settings_ = KpiSettings(max_lateness_days=lateness)
    one, other = PartitionCore(settings_), PartitionCore(settings_)
    until = (T0 + timedelta(days=20)).timestamp()  # some events are later: not counted
    for raw in lines:
        now = until if clock == "until" else one.max_ts
        expected = _view(*one.ingest(raw, now=now, until=until))
        try:
            decoded = orjson.loads(raw) if decode else None
        except ValueError:
            decoded = None
        assert _view(*other.ingest_line(raw, now, until, decoded)) == expected, raw
    assert other.rejected == one.rejected
    assert other.duplicates == one.duplicates
    assert render([other], AS_OF) == render([one], AS_OF)
