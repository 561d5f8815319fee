"""The registry of KPI groups: one package per group, named by the group's ``name``."""

from __future__ import annotations

from stream_app.kpi.core import PartitionCore
from stream_app.kpi.registry import GROUP_CLASSES, group_names
from stream_app.kpi.settings import KpiSettings
from tests.helpers import ev


def test_each_group_lives_in_the_package_of_its_name() -> None:
    assert group_names() == ["usage", "onboarding", "revenue", "health", "web"]
    for cls in GROUP_CLASSES:
        assert cls.__module__ == f"stream_app.kpi.groups.{cls.name}.group"


def test_account_records_key_the_slices_by_group_name() -> None:
    core = PartitionCore(KpiSettings())
    core.ingest(ev(eid="1", ts="2026-03-10T08:00:00Z", account="acme", user_id="u1"))
    record = dict(core.take_dirty())["account_id:acme"]
    assert record is not None
    # a product event reaches every group keyed by account_id (not web: keyed by visitor_id)
    account_groups = {c.name for c in GROUP_CLASSES if c.key_field == "account_id"}
    assert account_groups == {"usage", "onboarding", "revenue", "health"}
    assert set(record["g"]) == account_groups
    restored = PartitionCore(KpiSettings())
    restored.load_key("account_id:acme", record)
    assert set(restored.accounts["acme"].groups) == account_groups
