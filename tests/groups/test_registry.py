"""The registry of KPI groups: one package per group, named by the group's ``name``."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from stream_app.exposition import render
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.registry import GROUP_CLASSES, group_names
from stream_app.kpi.settings import KpiSettings
from tests.helpers import ev


def test_each_group_lives_in_the_package_of_its_name() -> None:
    assert group_names() == ["usage", "onboarding", "revenue", "health"]
    for cls in GROUP_CLASSES:
        assert cls.__module__ == f"stream_app.kpi.groups.{cls.name}.group"


def test_account_records_key_the_slices_by_group_name() -> None:
    core = PartitionCore(KpiSettings())
    core.ingest(ev(eid="1", ts="2026-03-10T08:00:00Z", account="acme", user_id="u1"))
    record = dict(core.take_dirty())["account_id:acme"]
    assert set(record["g"]) == set(group_names())  # a product event reaches every group
    restored = PartitionCore(KpiSettings())
    restored.load_key("account_id:acme", record)
    assert set(restored.accounts["acme"].groups) == set(group_names())


@pytest.mark.parametrize(
    ("groups", "running"),
    [
        ("all", None),
        ("usage", ["usage"]),
        ("revenue, usage", ["usage", "revenue"]),  # export order, whatever the order given
    ],
)
def test_cs_groups_chooses_the_groups_a_core_runs(groups: str, running: list[str] | None) -> None:
    core = PartitionCore(KpiSettings(groups=groups))
    assert [g.name for g in core.groups] == (running or group_names())
    core.ingest(ev(eid="1", ts="2026-03-10T08:00:00Z", account="acme", user_id="u1"))
    text = render([core], datetime.fromisoformat("2026-03-10T12:00:00+00:00")).decode()
    assert ('cs_active_users{window="1d"} 1.0' in text) == ("usage" in (running or ["usage"]))
    assert ("cs_mrr" in text) == (running is None or "revenue" in running)
    errors = {line.split('"')[1] for line in text.splitlines() if line.startswith("cs_kpi_err")}
    assert errors == set(running or group_names())


@pytest.mark.parametrize("groups", ["usage,nope", "", " , "])
def test_an_unknown_group_is_refused(groups: str) -> None:
    with pytest.raises(ValidationError, match="unknown KPI group"):
        KpiSettings(groups=groups)
