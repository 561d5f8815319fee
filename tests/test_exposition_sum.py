"""Merging the pages of ``stream-app worker --processes N`` (stream_app/worker/exposition_sum.py):
one page that Prometheus reads as it would read the sum over N scrape targets."""

from __future__ import annotations

import argparse
import os
import zlib
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stream_app.commands.worker import worker_argv
from stream_app.exposition import render
from stream_app.generator import GeneratorConfig, generate_history, write_jsonl
from stream_app.kpi.settings import KpiSettings
from stream_app.replay import replay
from stream_app.replay_share import message_key
from stream_app.settings import Settings
from stream_app.worker.exposition_sum import merge_expositions, merge_progress
from tests.helpers import samples

COUNTER_PAGE = """# HELP cs_events_total Events accepted.
# TYPE cs_events_total counter
cs_events_total{topic="product-events"} A
cs_events_total{topic="web-events"} B
"""


def counter_page(a: float, b: float) -> str:
    return COUNTER_PAGE.replace(" A", f" {a}").replace(" B", f" {b}")


@pytest.mark.parametrize(
    ("pages", "expected"),
    [
        # counters add up, label sets kept apart
        (
            [counter_page(a=3, b=0), counter_page(a=4, b=2)],
            {
                'cs_events_total{topic="product-events"}': 7.0,
                'cs_events_total{topic="web-events"}': 2.0,
            },
        ),
        # a label set only one process has is kept as it is
        (
            [
                counter_page(a=1, b=1),
                '# TYPE cs_events counter\ncs_events_total{topic="x"} 5\n',
            ],
            {
                'cs_events_total{topic="product-events"}': 1.0,
                'cs_events_total{topic="web-events"}': 1.0,
                'cs_events_total{topic="x"}': 5.0,
            },
        ),
        # one page: itself
        ([counter_page(a=2.5, b=1e-3)], None),
    ],
)
def test_counters_sum(pages: list[str], expected: dict[str, float] | None) -> None:
    merged = samples(merge_expositions(pages))
    assert merged == (expected if expected is not None else samples(pages[0].encode()))


def worker_page(batches: int, created: float, last_batch: float) -> str:
    """The shape of a worker's stream_app_* families (prometheus-client's Counter: _total
    and _created)."""
    return (
        "# HELP stream_app_batches_total Batches.\n"
        "# TYPE stream_app_batches_total counter\n"
        f"stream_app_batches_total {batches}\n"
        f"stream_app_batches_created {created}\n"
        "# HELP stream_app_last_batch_timestamp_seconds Last.\n"
        "# TYPE stream_app_last_batch_timestamp_seconds gauge\n"
        f"stream_app_last_batch_timestamp_seconds {last_batch}\n"
    )


def test_the_workers_own_series_stay_per_process() -> None:
    a, b = worker_page(3, 900.0, 1000.0), worker_page(4, 800.0, 1500.0)
    merged = samples(merge_expositions([a, b]))
    assert merged == {
        'stream_app_batches_total{process="0"}': 3,
        'stream_app_batches_total{process="1"}': 4,
        'stream_app_batches_created{process="0"}': 900.0,
        'stream_app_batches_created{process="1"}': 800.0,
        'stream_app_last_batch_timestamp_seconds{process="0"}': 1000.0,
        'stream_app_last_batch_timestamp_seconds{process="1"}': 1500.0,
    }


def test_a_counter_started_when_the_first_process_started_it() -> None:
    page = "# TYPE cs_x counter\ncs_x_total {n}\ncs_x_created {c}\n"
    merged = samples(merge_expositions([page.format(n=2, c=50.0), page.format(n=5, c=40.0)]))
    assert merged == {"cs_x_total": 7, "cs_x_created": 40.0}


def test_pages_of_key_shares_merge_to_the_whole(tmp_path: Path) -> None:
    """Every cs_ family (gauge histograms too): the events dealt over 3 shares by their
    topic's key (as partitions over processes), each replayed and rendered on its own;
    the pages merged give the whole replay's samples, with its families and types."""
    end = datetime(2026, 11, 1, tzinfo=UTC)
    config = GeneratorConfig(seed=7, accounts=40, days=20, end=end, duplicate_ratio=0.02)
    events = list(generate_history(config))
    settings = KpiSettings()
    shares: list[list[dict[str, object]]] = [[], [], []]
    for event in events:
        key = message_key(orjson.dumps(event))
        shares[zlib.crc32(key.encode()) % 3 if key else 0].append(event)
    assert all(shares)

    def page(share: list[dict[str, object]], name: str) -> bytes:
        path = tmp_path / f"{name}.jsonl"
        write_jsonl(share, path)
        return render([replay([path], settings, as_of=end).core], end)

    whole = page(events, "all")
    merged = merge_expositions([page(s, f"share-{i}").decode() for i, s in enumerate(shares)])
    expected, got = samples(whole), samples(merged)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-12, abs=1e-9), key
    types = sorted(ln for ln in whole.decode().splitlines() if ln.startswith("# TYPE"))
    assert sorted(ln for ln in merged.decode().splitlines() if ln.startswith("# TYPE")) == types
    # what Prometheus's client library reads in it: the same families, kinds and samples
    parsed = {f.name: f for f in text_string_to_metric_families(merged.decode())}
    reference = {f.name: f for f in text_string_to_metric_families(whole.decode())}
    assert {n: f.type for n, f in parsed.items()} == {n: f.type for n, f in reference.items()}
    for name, fam in reference.items():
        assert len(parsed[name].samples) == len(fam.samples), name


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (
            [
                {"handled": 5, "first_batch_at": 10.0, "last_batch_at": 20.0, "partitions": [0, 2],
                 "core": "compiled", "allocator": "jemalloc", "trimmed_at": None,
                 "trimmed_handled": None},
                {"handled": 7, "first_batch_at": 9.0, "last_batch_at": 19.0, "partitions": [1, 3],
                 "core": "compiled", "allocator": "jemalloc", "trimmed_at": 30.0,
                 "trimmed_handled": 7},
            ],
            {"handled": 12, "first_batch_at": 9.0, "last_batch_at": 20.0,
             "partitions": [0, 1, 2, 3], "core": "compiled", "allocator": "jemalloc",
             "trimmed_at": None, "trimmed_handled": None},
        ),
        (
            [
                {"handled": 0, "first_batch_at": None, "last_batch_at": None, "partitions": [],
                 "core": "pure", "trimmed_at": 31.0, "trimmed_handled": 0},
                {"handled": 7, "first_batch_at": 9.0, "last_batch_at": 19.0, "partitions": [3],
                 "core": "pure", "trimmed_at": 30.0, "trimmed_handled": 7},
            ],
            {"handled": 7, "first_batch_at": 9.0, "last_batch_at": 19.0, "partitions": [3],
             "core": "pure", "allocator": None, "trimmed_at": 31.0, "trimmed_handled": 7},
        ),
    ],
)  # fmt: skip
def test_progress_merge(answers: list[dict[str, object]], expected: dict[str, object]) -> None:
    assert merge_progress(answers) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, 1), ("3", 3), (2, 2), ("auto", os.cpu_count() or 1)],
)
def test_processes_setting(value: object, expected: int) -> None:
    kw = {} if value is None else {"processes": value}
    assert Settings(**kw).processes == expected


def test_worker_argv_passes_the_flags_on() -> None:
    args = argparse.Namespace(loglevel="warning", app_id="a", web_port=7000, groups=None)
    assert worker_argv(args) == [
        "worker", "--loglevel", "warning", "--app-id", "a", "--web-port", "7000",
    ]  # fmt: skip
