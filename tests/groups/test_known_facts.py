"""The groups skip a product event whose fact is already known (issue 18): a user, and its
account, already active on the event's day; for a feature_used, the user's day of that
feature already at or after it. Such an event must change nothing but the event counts:
neither a group's state (its dumped slice) nor any family, whatever came before it (late
events, signups, a read that cached the active-days distribution)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream_app.exposition import render
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.settings import KpiSettings
from tests.helpers import ev, samples

START = datetime.fromisoformat("2026-03-01T00:00:00+00:00")
T = START + timedelta(days=45)
KINDS = ("session_started", "feature_used", "user_signed_up", "referral_sent")

event_st = st.tuples(
    st.sampled_from(KINDS),
    st.sampled_from(("u1", "u2", "u3")),
    st.sampled_from(("export", "share", "search")),
    st.integers(0, 44 * 24),  # hour of the 45 days
)


def _raw(n: int, kind: str, user: str, feature: str, hour: int, eid: str = "") -> bytes:
    ts = (START + timedelta(hours=hour, minutes=n % 60)).isoformat()
    fields: dict[str, Any] = {"user_id": user}
    if kind == "feature_used":
        fields["feature"] = feature
    return ev(kind, eid=eid or f"e{n}", ts=ts, **fields)


def _state(core: PartitionCore) -> tuple[dict[str, Any], dict[str, float]]:
    """Every group's dumped slice of the account, and the exposition without the event
    counts (a copy is one more accepted event)."""
    exposition = samples(render([core], T))  # first: it settles (health judges bands)
    key = core.accounts["acme"]
    slices = {g.name: g.dump(key.groups[g.name]) for g in core.groups if g.name in key.groups}
    return slices, {k: v for k, v in exposition.items() if not k.startswith("cs_events_total")}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event_st, min_size=1, max_size=40), st.lists(st.integers(0, 39), max_size=8))
def test_an_event_of_a_known_fact_changes_nothing(
    events: list[tuple[str, str, str, int]], repeats: list[int]
) -> None:
    core = PartitionCore(KpiSettings(timezone="UTC"))
    half = len(events) // 2
    for n, (kind, user, feature, hour) in enumerate(events):
        core.ingest(_raw(n, kind, user, feature, hour))
        if n == half:
            render([core], T)  # a read in between: cached distributions meet what follows
    before = _state(core)
    # a new event id, the same user, day and feature (and time: the account's first event
    # time stays), of a product event already applied: a known fact
    for j, i in enumerate(repeats):
        if i < len(events):
            kind, user, feature, hour = events[i]
            if kind in ("session_started", "feature_used"):
                core.ingest(_raw(i, kind, user, feature, hour, eid=f"copy{j}"))
    assert _state(core) == before
