"""Lateness, future events and KPI error isolation in the core (table-driven)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from stream_app.exposition import render
from stream_app.kpi.core import Outcome, PartitionCore
from stream_app.kpi.groups.usage.group import UsageGroup
from stream_app.kpi.settings import KpiSettings
from stream_app.settings import Settings
from tests.helpers import ev, samples

NOW = datetime.fromisoformat("2026-06-01T12:00:00+00:00").timestamp()

CASES = [
    ("2026-06-01T11:59:59Z", True, Outcome.APPLIED, None),
    ("2026-03-04T12:00:01Z", True, Outcome.APPLIED, None),  # 89 days 23:59:59 old
    ("2026-03-03T11:59:59Z", True, Outcome.REJECTED, "too_late"),  # just over 90 days
    ("2026-06-01T12:05:00Z", True, Outcome.APPLIED, None),  # exactly the 5 min tolerance
    ("2026-06-01T12:05:01Z", True, Outcome.REJECTED, "future"),
    ("2026-06-01T12:05:01Z", False, Outcome.APPLIED, None),  # replay never says future
    ("2026-06-01T14:05:01+02:00", True, Outcome.REJECTED, "future"),  # same instant, offset
]


@pytest.mark.parametrize(("ts", "check_future", "outcome", "reason"), CASES)
def test_lateness(ts: str, check_future: bool, outcome: Outcome, reason: str | None) -> None:
    core = PartitionCore(KpiSettings())
    tolerance = Settings().future_tolerance_s if check_future else None
    got, detail = core.ingest(ev(eid="1", ts=ts), now=NOW, future_tolerance_s=tolerance)
    assert got is outcome
    assert getattr(detail, "reason", None) == reason


def test_lateness_limits_are_configurable() -> None:
    core = PartitionCore(KpiSettings(max_lateness_days=1))
    assert core.ingest(ev(eid="1", ts="2026-05-31T11:00:00Z"), now=NOW)[0] is Outcome.REJECTED
    assert (
        core.ingest(ev(eid="2", ts="2026-06-01T12:00:01Z"), now=NOW, future_tolerance_s=0)[0]
        is Outcome.REJECTED
    )
    assert core.rejected == {"too_late": 1, "future": 1}


def test_a_failing_kpi_group_is_counted_and_isolated(monkeypatch: Any) -> None:
    original = UsageGroup.apply
    calls = {"n": 0}

    def flaky(self: UsageGroup, account_id: str, state: Any, event: Any, day: int) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("boom")
        original(self, account_id, state, event, day)

    monkeypatch.setattr(UsageGroup, "apply", flaky)
    core = PartitionCore(KpiSettings())
    outcomes = [
        core.ingest(ev(eid=str(i), ts="2026-06-01T10:00:00Z", user_id=f"u{i}"))[0] for i in range(3)
    ]
    assert outcomes == [Outcome.APPLIED] * 3
    s = samples(render([core], datetime.fromtimestamp(NOW).astimezone()))
    assert s['cs_kpi_errors_total{group="usage"}'] == 1
    assert s['cs_events_total{type="session_started"}'] == 3
    assert s['cs_active_users{window="1d"}'] == 2
