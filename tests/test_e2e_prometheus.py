"""End to end on this machine: real Kafka, a worker, the generator, and a real Prometheus
(with the project's rule files) and Alertmanager.

(a) every query of every dashboard panel returns data, (b) the recording rules equal the
same ratios computed from ``replay`` of the same events, (c) a churn spike injected by the
generator makes ChurnSpike fire and reach a webhook through Alertmanager, and before it,
with the alert evaluable and live traffic flowing, nothing fires.

Prometheus scrapes and evaluates every second; ChurnSpike's rule file runs with every
duration divided by 120 (1 h -> 30 s, 1 w -> 84 min, ``for`` 5 m -> 2.5 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from stream_app.dashboards import OUT_DIR, panel_queries
from stream_app.dev.broker import create_topics
from stream_app.exposition import render
from stream_app.generator import GeneratorConfig, LiveSimulation, generate_history, write_jsonl
from stream_app.kpi.settings import KpiSettings
from stream_app.produce import produce, produce_live
from stream_app.replay import replay
from stream_app.timeutil import day_of
from tests.prom_stack import RULES, PromStack, http_get, raw_metrics, recording_rules, scaled_rules
from tests.rule_formulas import RULES as FORMULAS
from tests.rule_formulas import Exposition, parse_exposition
from tests.worker_proc import WorkerProcess, handled, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(360)]

FACTOR = 120  # ChurnSpike's durations are divided by this in the test
RATE_INTERVAL = "15s"  # what Grafana's $__rate_interval stands for here


def now_s() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@contextlib.contextmanager
def pipeline(
    kafka: Any, prefix: str, tmp: Path, cfg: GeneratorConfig, *, watch_backfill: bool
) -> Iterator[tuple[WorkerProcess, dict[str, str], Path, PromStack]]:
    """The history of ``cfg`` in Kafka and in a JSONL file, a worker that has read all of
    it, and the Prometheus stack scraping the worker: started before the worker reads the
    history (``watch_backfill``) or after."""
    jsonl = tmp / "events.jsonl"
    count = write_jsonl(generate_history(cfg), jsonl)
    worker = WorkerProcess(kafka.bootstrap, prefix, tmp)
    topics = worker.topics
    names = [*topics.values(), worker.env["CS_TOPIC_DEAD_LETTERS"]]
    asyncio.run(create_topics(kafka.bootstrap, names, 4))

    def send_history() -> None:
        sent = asyncio.run(produce(f"kafka://{kafka.bootstrap}", topics, generate_history(cfg)))
        assert sent == count

    stack = stack_for(worker, tmp)
    try:
        if watch_backfill:  # Prometheus sees the worker at 0 first, then the history arrive
            stack.start()
            worker.start()
            wait_for(lambda: stack.query("cs_events_total"), 60, "a scrape of the idle worker")
            send_history()
        else:
            send_history()
            worker.start()
        wait_for(lambda: handled(worker.metrics()) >= count, 120, f"{count} messages handled")
        if not watch_backfill:
            stack.start()
        yield worker, topics, jsonl, stack
    except BaseException:
        print(stack.logs())
        raise
    finally:
        stack.stop()
        worker.stop()


def stack_for(worker: WorkerProcess, tmp: Path) -> PromStack:
    rule_files = [  # ChurnSpike's durations (in revenue.yml) are scaled down to seconds
        scaled_rules(p, tmp / f"{p.stem}-scaled.yml", FACTOR) if p.name == "revenue.yml" else p
        for p in sorted(RULES.glob("*.yml"))
    ]
    return PromStack(tmp / "prom", [f"127.0.0.1:{worker.port}"], rule_files)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_panels_have_data_and_rules_equal_replay(
    kafka: Any, topic_prefix: str, tmp_path: Path
) -> None:
    cfg = GeneratorConfig(
        seed=7,
        accounts=60,
        days=35,
        end=now_s() - timedelta(minutes=1),
        duplicate_ratio=0.01,
        invalid_ratio=0.01,
    )
    # Prometheus watches the backfill: the 5-minute rates (rejected share) need traffic
    with pipeline(kafka, topic_prefix, tmp_path, cfg, watch_backfill=True) as (
        worker,
        _,
        jsonl,
        stack,
    ):
        exported = {s.name for s in parse_exposition(http_get(worker.url))} | {"up"}
        check_rules_equal_replay(stack, jsonl, exported)
        check_every_panel_query(stack, exported)


def stable(stack: PromStack, seconds: int) -> bool:
    """Every cs_* series has ``seconds`` scrapes of one and the same value."""
    series = stack.query(f'{{__name__=~"cs_.+",job="stream-app"}}[{seconds}s]')
    return bool(series) and all(
        len(s["values"]) >= seconds and len({v for _, v in s["values"]}) == 1 for s in series
    )


#: rules whose denominator is today's web sessions: legitimately empty just after midnight
TODAYS_SESSIONS = ("cs:web_bounce_1d:ratio",)


def no_sessions_today(stack: PromStack) -> bool:
    return not stack.query('sum(cs_web_sessions{window="1d"}) > 0')


def check_rules_equal_replay(stack: PromStack, jsonl: Path, exported: set[str]) -> None:
    """(b): at one evaluation, each KPI rule equals its Python twin on replay's output."""
    # five seconds of scrapes with every cs_* series unchanged, and the rules evaluated
    wait_for(
        lambda: stable(stack, 5) and stack.query("cs:stickiness_dau_mau:ratio"),
        60,
        "stable samples and evaluated rules",
    )
    at = time.time()
    (scraped,) = stack.values('timestamp(cs_active_users{window="30d"})', at).values()
    as_of = datetime.fromtimestamp(scraped, UTC)
    assert day_of(as_of - timedelta(seconds=6), UTC) == day_of(as_of, UTC), "crossed midnight"
    exposition = Exposition(
        parse_exposition(render([replay([jsonl], KpiSettings(), as_of).core], as_of))
    )
    rules = recording_rules()
    compared, empty = [], []
    for name, formula in FORMULAS.items():
        want = formula(exposition)
        got = stack.values(name, at)
        assert got.keys() == want.keys(), f"{name}: Prometheus {got} != replay {want}"
        for labels, value in want.items():
            assert close(got[labels], value), f"{name}{dict(labels)}: {got[labels]} != {value}"
        if want:
            compared.append(name)
        elif raw_metrics(rules[name], rules) <= exported:
            if name in TODAYS_SESSIONS and not exposition.total("cs_web_sessions", window="1d"):
                continue  # no web session today yet (the test runs just after midnight)
            empty.append(name)
    assert not empty, f"rules on exported metrics with no data (pick another seed?): {empty}"
    assert "cs:stickiness_dau_mau:ratio" in compared and "cs:feature_adoption:ratio" in compared
    print(f"(b) {len(compared)} recording rules equal replay as of {as_of.isoformat()}")


def check_every_panel_query(stack: PromStack, exported: set[str]) -> None:
    """(a): every panel query whose metrics the worker exports returns data."""
    rules = recording_rules()
    checked, pending = 0, []
    # ChurnSpike's hourly count waits 30 s after the worker took its partitions, and its
    # baseline 30 s more
    deadline = time.monotonic() + 120
    for path in sorted(OUT_DIR.glob("*.json")):  # the committed boards Grafana loads
        doc = json.loads(path.read_text())
        for title, expr in panel_queries(doc):
            query = expr.replace("$__rate_interval", RATE_INTERVAL)
            missing = raw_metrics(query, rules) - exported
            if missing:
                pending.append(f"{doc['uid']}: {title}: {sorted(missing)}")
                continue
            if any(r in query for r in TODAYS_SESSIONS) and no_sessions_today(stack):
                pending.append(f"{doc['uid']}: {title}: no web session today yet")
                continue
            wait_for(
                lambda q=query: stack.query(q),
                max(1.0, deadline - time.monotonic()),
                f"data for {doc['uid']} / {title}: {query}",
            )
            checked += 1
    print(f"(a) {checked} panel queries returned data; waiting for metrics: {pending}")
    assert checked >= 75 and len(list(OUT_DIR.glob("*.json"))) == 7


class LiveProducer:
    """The generator's live mode (``produce_live``) in a thread with its own event loop."""

    def __init__(self, broker: str, topics: dict[str, str], cfg: GeneratorConfig) -> None:
        self._loop = asyncio.new_event_loop()
        sim = LiveSimulation(cfg)
        assert cfg.end is not None
        self._main = produce_live(broker, topics, sim.events_between, cfg.end, period=0.5)
        self._task: asyncio.Task[None] | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="live-producer", daemon=True)

    def _run(self) -> None:
        self._task = self._loop.create_task(self._main)
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # surfaced by stop()
            self.error = exc
        finally:
            self._loop.close()

    def __enter__(self) -> LiveProducer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        wait_for(lambda: self._task is not None, 10, "live producer started")
        assert self._task is not None
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(30)
        if self.error is not None:
            raise self.error


def churn_spikes(stack: PromStack) -> list[dict[str, Any]]:
    return [
        alert
        for payload in stack.received()
        for alert in payload["alerts"]
        if alert["labels"].get("alertname") == "ChurnSpike" and alert["status"] == "firing"
    ]


def test_churn_spike_pages_through_alertmanager(
    kafka: Any, topic_prefix: str, tmp_path: Path
) -> None:
    started = now_s()
    spike_at = started + timedelta(seconds=80)
    cfg = GeneratorConfig(
        seed=3,
        accounts=80,
        days=20,
        end=started - timedelta(minutes=1),
        churn_spike_at=spike_at,
        churn_spike_hours=10 / 3600,
        churn_spike_share=0.5,
    )
    probe = tmp_path / "probe.jsonl"
    write_jsonl(generate_history(cfg), probe)
    history = Exposition(parse_exposition(render([replay([probe]).core], cfg.end)))
    if history.total("cs_subscription_cancellations_total") is None:
        pytest.skip("the worker does not export cs_subscription_cancellations_total yet")
    paying = history.total("cs_accounts", status="paying") or 0
    assert paying * cfg.churn_spike_share >= 10, "too few paying accounts for a clear spike"
    # Prometheus starts after the backfill: its counter step would be a spike of its own
    with (
        pipeline(kafka, topic_prefix, tmp_path, cfg, watch_backfill=False) as (
            worker,
            topics,
            _,
            stack,
        ),
        LiveProducer(worker.env["CS_BROKER"], topics, cfg),
    ):
        check_quiet_then_spike(stack, spike_at)


def check_quiet_then_spike(stack: PromStack, spike_at: datetime) -> None:
    x = "cs:subscription_cancellations:increase1h"
    # ChurnSpike becomes evaluable once its baseline (the hour before, scaled) exists
    wait_for(lambda: stack.query(f"{x}_stddev1w"), 60, "the ChurnSpike baseline")
    quiet_from = time.time()
    quiet_to = spike_at.timestamp() - 2
    assert quiet_to - quiet_from >= 10, "setup took too long to watch a quiet period first"
    wait_for(lambda: time.time() >= quiet_to, quiet_to - quiet_from + 5, "the quiet period's end")
    window = f"{int(quiet_to - quiet_from)}s"
    print(f"(c) watched {window} with ChurnSpike evaluable and no spike")
    # no spike, no alert: not even pending, and nothing reached the webhook ...
    assert stack.query(f'count_over_time(ALERTS{{alertname="ChurnSpike"}}[{window}])') == []
    assert stack.received() == []
    # ... while the worker was up and the alert evaluable all along
    assert min(stack.values(f'min_over_time(up{{job="stream-app"}}[{window}])').values()) == 1
    evaluations = stack.values(f"count_over_time({x}_stddev1w[{window}])")
    assert min(evaluations.values()) >= int(quiet_to - quiet_from) - 3
    assert max(stack.values(f"max_over_time({x}[{window}])").values()) < 5

    wait_for(lambda: churn_spikes(stack), 90, "ChurnSpike at the webhook")
    (alert, *_) = churn_spikes(stack)
    assert alert["labels"]["severity"] == "page"
    assert "cancellations in the last hour" in alert["annotations"]["summary"]
    assert stack.query('ALERTS{alertname="ChurnSpike",alertstate="firing"}')
    assert max(stack.values(f"max_over_time({x}[2m])").values()) >= 5
    print(f"(c) ChurnSpike delivered {time.time() - spike_at.timestamp():.1f}s after the spike")
