"""The Grafana boards: committed JSON equals the generator's output, and every panel is
complete (description, unit, datasource, queries on known metrics and rules)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from stream_app.dashboards import BOARDS as BOARD_FACTORIES
from stream_app.dashboards import OUT_DIR, build, drift, generated, panel_queries
from stream_app.dashboards.panels import money_unit
from tests.prom_stack import METRIC_NAME, ROOT, recording_rules

#: metric names the workers export (docs/kpis.md) plus Prometheus' own `up`
KNOWN_METRICS = {
    "up",
    "cs_active_users",
    "cs_feature_users",
    "cs_user_active_days_bucket",
    "cs_cohort_users",
    "cs_cohort_accounts",
    "cs_events_total",
    "cs_events_duplicate_total",
    "cs_events_rejected_total",
    "cs_kpi_errors_total",
    "stream_app_batches_total",
    "stream_app_messages_total",
    "stream_app_partitions_owned",
    "stream_app_last_batch_timestamp_seconds",
    "stream_app_consumer_lag",
    "cs_new_accounts",
    "cs_activated_accounts",
    "cs_time_to_first_value_seconds_bucket",
    "cs_time_to_proficiency_seconds_bucket",
    "cs_first_week_active_days_bucket",
    "cs_onboarded_accounts",
    "cs_adopted_accounts",
    "cs_referring_users",
    "cs_accounts",
    "cs_mrr",
    "cs_paying_accounts_period_start",
    "cs_churned_accounts",
    "cs_new_paying_accounts",
    "cs_mrr_movements",
    "cs_mrr_period_start",
    "cs_renewals",
    "cs_expanded_accounts",
    "cs_payment_failures",
    "cs_revenue",
    "cs_subscription_cancellations_total",
    "cs_survey_responses",
    "cs_tickets_opened",
    "cs_tickets_resolved",
    "cs_tickets_resolved_first_contact",
    "cs_ticket_resolution_seconds_gcount",
    "cs_accounts_by_health",
    "cs_checkouts_started",
    "cs_checkouts_judged",
    "cs_checkouts_abandoned",
    "cs_orders",
    "cs_sales",
    "cs_ordering_accounts",
    "cs_acquisition_spend",
    "cs_social_interactions",
    "cs_employee_survey_responses",
    "cs_web_visitors",
    "cs_web_sessions",
    "cs_web_pageviews",
    "cs_web_entries",
    "cs_web_exits",
}


def boards() -> list[dict[str, Any]]:
    return [build(make) for make in BOARD_FACTORIES]


def panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in doc["panels"] if p["type"] != "row"]


def test_committed_json_is_what_the_code_generates() -> None:
    assert drift() == [], "run: .venv/bin/python -m stream_app.dashboards"
    assert sorted(p.name for p in OUT_DIR.glob("*.json")) == sorted(generated())


def test_drift_is_detected(tmp_path: Path) -> None:
    for name, text in generated().items():
        (tmp_path / name).write_text(text)
    assert drift(tmp_path) == []
    first = sorted(generated())[0]
    doc = json.loads((tmp_path / first).read_text())
    doc["panels"][1]["title"] += " (edited by hand)"
    (tmp_path / first).write_text(json.dumps(doc))
    (tmp_path / "old-board.json").write_text("{}")
    assert drift(tmp_path) == sorted([first, "old-board.json"])


def test_the_seven_boards() -> None:
    docs = boards()
    assert [d["uid"] for d in docs] == [
        "cs-overview",
        "cs-engagement",
        "cs-revenue",
        "cs-commerce",
        "cs-voice",
        "cs-web",
        "cs-pipeline",
    ]
    for doc in docs:
        assert doc["schemaVersion"] >= 39  # a Grafana 11 dashboard
        variables = doc["templating"]["list"]
        assert [(v["name"], v["type"], v["query"]) for v in variables] == [
            ("datasource", "datasource", "prometheus")
        ]
        assert len({p["id"] for p in doc["panels"]}) == len(doc["panels"])


def test_every_panel_is_described_with_units_and_thresholds() -> None:
    for doc in boards():
        for panel in panels(doc):
            where = f"{doc['uid']}: {panel['title']}"
            assert len(panel.get("description", "")) > 30, where
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
            defaults = panel["fieldConfig"]["defaults"]
            assert defaults.get("unit"), where
            steps = defaults.get("thresholds", {}).get("steps")
            if steps:
                assert steps[0]["value"] is None, where
                values = [s["value"] for s in steps[1:]]
                assert values == sorted(values), where
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), where


#: PromQL in a description's plain part: a metric or rule name, a selector, a function
PROMQL = re.compile(r"cs[_:]|stream_app_|\{|\w\(|\bby \(")
#: queries whose numbers are money (major units of the reporting currency)
MONEY = re.compile(
    r"cs_mrr\b|cs_mrr_movements|cs_revenue|cs:arpa|cs:clv\b"
    r"|cs_sales|cs:average_order_value|cs:cac_30d\b|cs_acquisition_spend"
)


def test_descriptions_say_it_in_words_first_then_the_formula() -> None:
    for doc in boards():
        for panel in panels(doc):
            where = f"{doc['uid']}: {panel['title']}"
            plain, formula = panel["description"].split("Formula:", 1)
            assert len(plain.strip()) > 20 and formula.strip(), where
            assert not PROMQL.search(plain), f"{where}: PromQL before the formula: {plain!r}"


def test_money_panels_carry_the_currency() -> None:
    money = 0
    for doc in boards():
        for panel in panels(doc):
            if any(MONEY.search(t["expr"]) for t in panel["targets"]):
                money += 1
                unit = panel["fieldConfig"]["defaults"]["unit"]
                assert unit == "currencyUSD", f"{doc['uid']}: {panel['title']}: {unit}"
    assert money >= 8


def test_the_money_unit_follows_the_reporting_currency() -> None:
    assert money_unit("EUR") == "currencyEUR"
    assert money_unit("cad") == "suffix: CAD"  # no Grafana unit for it


def test_queries_use_known_metrics_and_rules() -> None:
    known = KNOWN_METRICS | set(recording_rules())
    for doc in boards():
        for title, expr in panel_queries(doc):
            unknown = set(METRIC_NAME.findall(expr)) - known
            assert not unknown, f"{doc['uid']}: {title}: {unknown}"


def test_industry_thresholds_on_the_headline_kpis() -> None:
    by_title = {
        (doc["uid"], p["title"]): p["fieldConfig"]["defaults"].get("thresholds", {}).get("steps")
        for doc in boards()
        for p in panels(doc)
    }
    steps = by_title["cs-overview", "Stickiness (30 d average DAU/MAU)"]
    assert steps[-1] == {"color": "green", "value": 0.13}
    nps = by_title["cs-overview", "NPS (90 d)"]
    assert [s["value"] for s in nps] == [None, 0, 20, 50]
    churn = by_title["cs-revenue", "Customer churn (30 d)"]
    assert [s["color"] for s in churn] == ["green", "orange", "red"]
    assert churn[-1]["value"] == 0.10


def test_provisioning_points_at_the_boards_and_prometheus() -> None:
    ds = yaml.safe_load((ROOT / "grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = ds["datasources"]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    assert source["isDefault"] is True
    prov = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/stream-app.yml").read_text())
    (provider,) = prov["providers"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts
