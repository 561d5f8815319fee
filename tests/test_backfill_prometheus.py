"""End to end: ``stream-app backfill`` of a generated 60-day history into a real
Prometheus data directory, read back with ``query_range``: every daily value equals what
``replay --step 1d`` gave for that day, for the raw families and the recording rules."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stream_app.backfill import backfill
from stream_app.generator import GeneratorConfig, generate_history, write_jsonl
from stream_app.kpi.families import Family
from stream_app.kpi.settings import KpiSettings
from stream_app.replay import replay_steps
from tests.prom_stack import Service, http_get
from tests.rule_formulas import RULES as FORMULAS
from tests.rule_formulas import Exposition, Sample
from tests.worker_proc import free_port, wait_for

pytestmark = pytest.mark.timeout(600)

END = datetime(2026, 5, 20, 18, 0, tzinfo=UTC)
#: daily steps at noon (at midnight, "today so far" would always be 0)
START = datetime(2026, 3, 22, 12, 0, tzinfo=UTC)
DAY = 86_400
#: raw series read back (a selector each); every series of each must match every day
RAW = [
    'cs_active_users{window="30d"}',
    'cs_active_users{window="1d"}',
    "cs_user_active_days_gsum",
    "cs_user_active_days_gcount",
    "cs_user_active_days_bucket",
    "cs_cohort_users",
    "cs_cohort_retained_users",
    "cs_cohort_accounts",
    'cs_events_total{type="session_started"}',
    "cs_events_rejected_total",
]
RULES = ["cs:stickiness_30d:ratio", "cs:cohort_retention_users:ratio", "cs:activation:ratio"]

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def flat(families: list[Family]) -> list[Sample]:
    return [
        Sample(f.name + suffix, dict(labels), float(value))
        for f in families
        for (suffix, labels), value in f.samples.items()
    ]


def query_range(base: str, expr: str, start: int, end: int) -> dict[int, Series]:
    """timestamp -> {(name, labels): value} of ``expr`` at every day from start to end."""
    params = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": DAY})
    body = json.loads(http_get(f"{base}/api/v1/query_range?{params}", timeout=60))
    out: dict[int, Series] = {}
    for result in body["data"]["result"]:
        metric = dict(result["metric"])
        name = metric.pop("__name__", expr)
        for ts, value in result["values"]:
            out.setdefault(int(ts), {})[name, frozenset(metric.items())] = float(value)
    return out


def test_backfilled_history_equals_replay_every_day(tmp_path: Path) -> None:
    cfg = GeneratorConfig(
        seed=17, accounts=30, days=60, end=END, duplicate_ratio=0.01, invalid_ratio=0.01
    )
    events = tmp_path / "events.jsonl"
    write_jsonl(generate_history(cfg), events)
    settings = KpiSettings()

    expected: dict[int, list[Sample]] = {}
    replay_steps(
        [events],
        settings,
        lambda at, fams: expected.__setitem__(int(at.timestamp()), flat(fams)),
        start=START,
    )
    assert len(expected) == 60  # 2026-03-22 ... 2026-05-20, at noon

    data = tmp_path / "prom-data"
    result = backfill([events], data, settings, start=START, step="1d")
    assert result.replay.steps == len(expected) and result.rule_passes >= 2

    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n")
    port = free_port()
    prom = Service(
        "prometheus",
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=10y",  # the history is older than 15 days
            "--log.level=warn",
        ],
        tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: ready(prom, base), 120, "Prometheus on the backfilled directory")
        start, end = min(expected), max(expected)
        for selector in RAW:
            got = query_range(base, selector, start, end)
            name = selector.split("{")[0]
            want_label = selector[len(name) :].strip("{}")
            nonzero = 0
            for ts, samples in expected.items():
                want = {
                    (s.name, frozenset(s.labels.items())): s.value
                    for s in samples
                    if s.name == name and (not want_label or _matches(s.labels, want_label))
                }
                assert got.get(ts, {}) == want, f"{selector} at {ts}"
                nonzero += any(want.values())
            assert nonzero >= 30, f"{selector}: only {nonzero} days with data"
        for rule in RULES:
            got = query_range(base, rule, start, end)
            compared = 0
            for ts, samples in expected.items():
                want = {
                    (rule, labels): value
                    for labels, value in FORMULAS[rule](Exposition(samples)).items()
                }
                have = got.get(ts, {})
                assert have.keys() == want.keys(), f"{rule} at {ts}"
                for key, value in want.items():
                    assert have[key] == pytest.approx(value, rel=1e-9), f"{rule} at {ts}"
                compared += len(want)
            assert compared > 30, f"{rule}: too few samples to compare"
    finally:
        prom.stop()


def ready(prom: Service, base: str) -> bool:
    prom.check()
    return bool(http_get(f"{base}/-/ready"))


def _matches(labels: dict[str, str], selector: str) -> bool:
    key, _, value = selector.partition("=")
    return labels.get(key) == value.strip('"')
