"""The benchmark suite's quick mode runs end to end and reports every figure.

It asserts that each figure was measured (present, positive, finite) and that each target
of issue 18 is checked against its figure (threshold, value, a yes/no that agrees with
them), never that a target is met: the figures themselves are benchmarks, see
``python -m bench``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stream_app.contract import TOPIC_ROLES

REPO = Path(__file__).resolve().parent.parent
POSITIVE = [
    "ceiling_eps",
    "worker_eps",
    "worker_usage_eps",
    "worker_eps_single",
    "worker_usage_eps_single",
    "naive_faust_eps",
    "quix_eps",
    "replay_eps",
    "replay_eps_single",
    "replay_floor_eps",
    "freshness_p50_s",
    "freshness_p99_s",
    "freshness_metrics_p99_s",
    "freshness_rate_eps",
    "rss_mb_per_100k_users",
    "rss_mb_per_100k_visitors",
    "rss_peak_mb_per_100k_users",
    "rss_peak_mb_per_100k_visitors",
    "recovery_s",
    "scale_2_workers",
]


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_bench_quick(tmp_path: Path) -> None:
    out_file = tmp_path / "bench.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench", "--quick", "--json-out", str(out_file)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=280)
    except subprocess.TimeoutExpired:
        proc.terminate()  # SIGTERM: the bench stops its workers and its broker
        stdout, stderr = proc.communicate(timeout=15)
        pytest.fail(f"bench --quick took over 280 s; stdout:\n{stdout[-4000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"stdout:\n{stdout[-4000:]}\nstderr:\n{stderr[-4000:]}"
    figures = json.loads(stdout.strip().splitlines()[-1])
    assert figures == json.loads(out_file.read_text())
    for key in ("events", "machine", "kafka_version", "date", "quick", "ratio", *POSITIVE):
        assert key in figures, key
    assert figures["quick"] is True
    assert figures["events"] > 0
    assert figures["errors"] == {}
    for key in POSITIVE:
        value = figures[key]
        assert isinstance(value, int | float) and math.isfinite(value) and value > 0, (key, value)
    assert 0 < figures["ratio"] < 1.5
    assert figures["replay_processes"] in (1, 2)
    # worker_eps: `stream-app worker --processes auto`, one process per CPU
    assert figures["worker_processes"] == figures["details"]["worker"]["processes"]
    assert figures["worker_processes"] == (os.cpu_count() or 1)
    replay = figures["details"]["replay"]
    assert replay["same_output"] is True  # split or not, the same exposition byte for byte
    assert replay["split"]["lines"] == replay["single"]["lines"] == figures["events"]
    # the floor: the same lines, the company group only
    assert replay["floor"]["lines"] == figures["events"]
    assert replay["floor"]["groups"] == "company"
    # the dataset: every topic, page views the most frequent type, shares that add up
    dataset = figures["details"]["dataset"]
    assert dataset["events"] == figures["events"]
    assert set(dataset["topics"]) == set(TOPIC_ROLES)  # web and company events included
    types = dataset["types"]
    assert next(iter(types)) == "page_viewed", list(types)[:3]
    assert sum(t["events"] for t in types.values()) == figures["events"]
    assert math.isclose(sum(t["share"] for t in types.values()), 1.0, abs_tol=0.01)
    check_targets(figures)


TARGET_KEYS = {
    "worker_eps",
    "worker_usage_eps",
    "ratio",
    "replay_eps",
    "rss_mb_per_100k_users",
    "rss_mb_per_100k_visitors",
    "freshness_p99_s",
    "freshness_metrics_p99_s",
    "scale_2_workers",
    "scale_2_workers_steady",
    "recovery_s",
}


def check_targets(figures: dict[str, Any]) -> None:
    """Every target of issue 18 is there, with the run's value; ``met`` follows from them."""
    targets = figures["targets"]
    assert set(targets) == TARGET_KEYS
    for key, t in targets.items():
        assert t["value"] == figures[key], key
        assert t["rule"].startswith((">=", "<=")), t
        if t["value"] is None:  # a quick run may leave too little work for "once balanced"
            assert key == "scale_2_workers_steady" and t["met"] is None, (key, t)
            continue
        assert isinstance(t["threshold"], int | float) and t["threshold"] > 0, (key, t)
        if t["rule"].startswith(">="):
            assert t["met"] is (t["value"] >= t["threshold"]), (key, t)
        else:
            assert t["met"] is (t["value"] <= t["threshold"]), (key, t)
    assert targets["worker_usage_eps"]["threshold"] == 2 * figures["quix_eps"]
    assert targets["worker_eps"]["threshold"] == figures["quix_eps"]
