"""The registry of KPI groups: one package per group, named by the group's ``name``."""

from __future__ import annotations

from stream_app.kpi.core import PartitionCore
from stream_app.kpi.registry import GROUP_CLASSES, group_names
from stream_app.kpi.settings import KpiSettings
from tests.helpers import ev


def test_each_group_lives_in_the_package_of_its_name() -> None:
    assert group_names() == [
        "usage",
        "onboarding",
        "revenue",
        "health",
        "commerce",
        "company",
        "web",
    ]
    for cls in GROUP_CLASSES:
        assert cls.__module__ == f"stream_app.kpi.groups.{cls.name}.group"


def test_account_records_key_the_slices_by_group_name() -> None:
    core = PartitionCore(KpiSettings())
    core.ingest(ev(eid="1", ts="2026-03-10T08:00:00Z", account="acme", user_id="u1"))
    record = dict(core.take_dirty())["account_id:acme"]
    # a product event reaches every group that takes product events
    takers = {"usage", "onboarding", "revenue", "health"}
    assert set(record["g"]) == takers
    restored = PartitionCore(KpiSettings())
    restored.load_key("account_id:acme", record)
    assert set(restored.accounts["acme"].groups) == takers


def test_each_key_field_gets_the_slices_of_its_groups() -> None:
    core = PartitionCore(KpiSettings())
    core.ingest(
        ev(
            "checkout_started",
            eid="1",
            ts="2026-03-10T08:00:00Z",
            checkout_id="c",
            amount=1,
            currency="USD",
        )
    )
    core.ingest(
        b'{"event_id":"2","type":"social_interaction","ts":"2026-03-10T08:00:00Z",'
        b'"source":"x","interaction":"like"}'
    )
    records = dict(core.take_dirty())
    # a billing event makes the account known to revenue and health too
    assert set(records["account_id:acme"]["g"]) == {"revenue", "health", "commerce"}
    assert set(records["source:x"]["g"]) == {"company"}
