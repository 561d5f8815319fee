"""The Prometheus rules and configs: promtool/amtool checks and unit tests, and coverage.

promtool, amtool (Debian's prometheus and prometheus-alertmanager) are installed by
``./dev``; a missing tool fails these tests rather than skipping them.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.prom_stack import ROOT, RULES, duration_ms, rules, scale_expr, scaled_rules
from tests.rule_formulas import KPI_GROUPS, Exposition, Sample
from tests.rule_formulas import RULES as FORMULAS

PROM_TESTS = ROOT / "prometheus" / "tests"
REQUIRED_RECORDING_RULES = {
    "cs:stickiness_30d:ratio",
    "cs:cohort_retention_users:ratio",
    "cs:cohort_retention_accounts:ratio",
    "cs:stickiness_dau_mau:ratio",
    "cs:stickiness_wau_mau:ratio",
    "cs:feature_adoption:ratio",
    "cs:activation:ratio",
    "cs:adoption:ratio",
    "cs:time_to_first_value_seconds:p50",
    "cs:time_to_first_value_seconds:p90",
    "cs:customer_churn_30d:ratio",
    "cs:retention_30d:ratio",
    "cs:net_mrr_churn_30d:ratio",
    "cs:renewal_30d:ratio",
    "cs:upsell_conversion_30d:ratio",
    "cs:arpa",
    "cs:clv",
    "cs:nps:score",
    "cs:csat:ratio",
    "cs:ces:mean",
    "cs:first_contact_resolution_30d:ratio",
    "cs:mttr_seconds",
    "cs:checkout_abandonment_30d:ratio",
    "cs:average_order_value_30d",
    "cs:repeat_purchase:ratio",
    "cs:cac_30d",
    "cs:clv_to_cac:ratio",
    "cs:social_net_sentiment_30d:ratio",
    "cs:enps:score",
    "cs:employee_satisfaction:ratio",
}
REQUIRED_ALERTS = {
    "ChurnSpike",
    "StickinessDrop",
    "ActivationDrop",
    "WorkerDown",
    "ConsumerLagGrowing",
    "RejectedEventsHigh",
    "KpisStale",
    "CheckoutAbandonmentHigh",
    "NegativeMentionsSpike",
}


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: run ./dev bootstrap (installs Debian's prometheus)"
    return path


def run(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


def unit_tests() -> list[dict[str, Any]]:
    return [
        test
        for path in sorted(PROM_TESTS.glob("*.yml"))
        for test in yaml.safe_load(path.read_text())["tests"]
    ]


def test_promtool_checks_config_and_rules() -> None:
    result = run(tool("promtool"), "check", "config", "prometheus/prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    rule_files = sorted(RULES.glob("*.yml"))
    assert f"{len(rule_files)} rule files found" in result.stdout
    result = run(tool("promtool"), "check", "rules", *map(str, rule_files))
    assert result.returncode == 0, result.stdout + result.stderr


def test_amtool_checks_alertmanager_config() -> None:
    result = run(tool("amtool"), "check-config", "alertmanager/alertmanager.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    promtool = tool("promtool")
    files = sorted(PROM_TESTS.glob("*.yml"))
    assert len(files) >= 3
    procs = [  # one process per file: the week-long ones take seconds each
        subprocess.Popen(
            [promtool, "test", "rules", f.name],
            cwd=PROM_TESTS,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for f in files
    ]
    for f, proc in zip(files, procs, strict=True):
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"{f.name}:\n{out}"


def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """A wrong expectation in the KPI unit tests makes promtool fail."""
    text = (PROM_TESTS / "usage_test.yml").read_text()
    wrong = text.replace("value: 0.15}", "value: 0.16}", 1)
    assert wrong != text
    (tmp_path / "wrong_test.yml").write_text(wrong.replace("../rules/", f"{RULES}/"))
    result = run(tool("promtool"), "test", "rules", "wrong_test.yml", cwd=tmp_path)
    assert result.returncode != 0
    assert "cs:stickiness_dau_mau:ratio" in result.stdout + result.stderr


def test_required_rules_and_alerts_exist() -> None:
    names = {r.get("record") or r.get("alert") for r in rules()}
    assert names >= REQUIRED_RECORDING_RULES, REQUIRED_RECORDING_RULES - names
    assert names >= REQUIRED_ALERTS, REQUIRED_ALERTS - names


def test_every_alert_has_firing_and_quiet_unit_tests() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for test in unit_tests():
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    alerts = {r["alert"] for r in rules() if "alert" in r}
    assert alerts - firing == set(), "alerts never shown firing"
    assert alerts - quiet == set(), "alerts never shown quiet"
    for rule in rules():
        if "alert" in rule:
            assert {"summary", "description", "runbook"} <= set(rule["annotations"])
            assert rule["labels"]["severity"] in {"page", "ticket"}


def test_every_recording_rule_has_a_unit_test() -> None:
    tested = " ".join(
        case["expr"] for test in unit_tests() for case in test.get("promql_expr_test", [])
    )
    untested = {r["record"] for r in rules() if "record" in r and r["record"] not in tested}
    assert untested == set()


def first_values(test: dict[str, Any]) -> Exposition:
    """The input series of a promtool test at time 0 (gauges are constant there)."""
    samples = []
    for series in test["input_series"]:
        m = re.fullmatch(r"([^{]+)\{(.*)\}", series["series"])
        assert m, series
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        first = re.match(r"-?[\d.]+", series["values"])
        assert first, series
        samples.append(Sample(m.group(1), labels, float(first.group(0))))
    return Exposition(samples)


def test_python_twins_of_the_kpi_rules_match_the_promtool_expectations() -> None:
    """tests/rule_formulas.py (used by the end-to-end test) computes what promtool expects."""
    kpi_rules = {r["record"] for r in rules() if r.get("group") in KPI_GROUPS}
    assert set(FORMULAS) == kpi_rules
    checked = 0
    tests = [
        test
        for group in KPI_GROUPS
        for test in yaml.safe_load(
            (PROM_TESTS / f"{group.removeprefix('cs-')}_test.yml").read_text()
        )["tests"]
    ]
    for test in tests:
        exposition = first_values(test)
        for case in test["promql_expr_test"]:
            if case["expr"] not in FORMULAS:
                continue
            want = {}
            for sample in case["exp_samples"]:
                labels = re.findall(r'(\w+)="([^"]*)"', sample["labels"])
                want[frozenset(labels)] = float(sample["value"])
            got = FORMULAS[case["expr"]](exposition)
            assert got.keys() == want.keys(), case["expr"]
            for key, value in want.items():
                assert math.isclose(got[key], value, rel_tol=1e-12), (case["expr"], got, want)
            checked += 1
    assert checked >= len(FORMULAS)


def test_scaling_divides_every_duration(tmp_path: Path) -> None:
    expr = "avg_over_time(x[1w] offset 1h) + rate(y[5m:1m]) + z offset 1h30m"
    assert scale_expr(expr, 120) == (
        "avg_over_time(x[5040000ms] offset 30000ms) + rate(y[2500ms:500ms]) + z offset 45000ms"
    )
    assert duration_ms("1h30m") == 5_400_000
    with pytest.raises(ValueError):
        duration_ms("1 hour")
    scaled = scaled_rules(RULES / "revenue.yml", tmp_path / "revenue.yml", 120)
    result = run(tool("promtool"), "check", "rules", str(scaled))
    assert result.returncode == 0, result.stdout + result.stderr
    scaled_groups = yaml.safe_load(scaled.read_text())["groups"]
    spike = next(r for g in scaled_groups for r in g["rules"] if r.get("alert") == "ChurnSpike")
    # the revenue ratios next to ChurnSpike have no durations: scaling leaves them as they are
    ratios = {r["record"]: r["expr"] for r in rules() if r["group"] == "cs-revenue"}
    revenue = next(g for g in scaled_groups if g["name"] == "cs-revenue")
    assert ratios and {r["record"]: r["expr"] for r in revenue["rules"]} == ratios
    assert spike["for"] == "2500ms"
    assert "offset 5040000ms" in spike["expr"] and "[" not in spike["expr"]


def test_the_documented_slack_and_pagerduty_example_is_valid(tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "observability.md").read_text()
    section = doc[doc.index("## Alertmanager") :]
    example = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert (
        example and "slack_configs" in example.group(1) and "pagerduty_configs" in example.group(1)
    )
    (tmp_path / "am.yml").write_text(example.group(1))
    result = run(tool("amtool"), "check-config", str(tmp_path / "am.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
