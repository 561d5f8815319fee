"""The benchmark suite's quick mode runs end to end and reports every figure.

It asserts that each figure was measured (present, positive, finite), never a performance
target: the figures themselves are benchmarks, see ``python -m bench``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
POSITIVE = [
    "ceiling_eps",
    "worker_eps",
    "naive_faust_eps",
    "quix_eps",
    "replay_eps",
    "freshness_p50_s",
    "freshness_p99_s",
    "freshness_metrics_p99_s",
    "freshness_rate_eps",
    "rss_mb_per_100k_users",
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
