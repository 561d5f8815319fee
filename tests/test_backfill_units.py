"""Pieces of ``stream-app backfill`` that need no Prometheus: the order in which the
recording rules are evaluated, and a data directory in use is refused."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from stream_app.backfill import RULES_DIR, BackfillError, backfill, rule_passes
from stream_app.kpi.settings import KpiSettings
from tests.helpers import ev


def test_rules_that_read_rules_come_in_a_later_pass() -> None:
    passes = rule_passes(RULES_DIR)
    where = {r["record"]: i for i, groups in enumerate(passes) for g in groups for r in g["rules"]}
    assert where["cs:clv"] > where["cs:arpa"]
    assert where["cs:clv"] > where["cs:customer_churn_30d:ratio"]
    assert where["cs:stickiness_30d:ratio"] == 0
    assert where["cs:cohort_retention_users:ratio"] == 0
    # alerts are not recording rules: left out
    names = {r.get("record") for groups in passes for g in groups for r in g["rules"]}
    assert None not in names and "StickinessDrop" not in str(passes)


def test_a_directory_in_use_is_refused(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(ev(eid="1", ts="2026-03-10T08:00:00Z") + b"\n")
    data = tmp_path / "data"
    data.mkdir()
    with (data / "lock").open("wb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # what a running Prometheus holds
        with pytest.raises(BackfillError, match="in use by a running Prometheus"):
            backfill([events], data, KpiSettings(), step="1d")
    assert sorted(p.name for p in data.iterdir()) == ["lock"]
