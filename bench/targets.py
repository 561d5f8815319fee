"""The targets of issue 18, checked against the figures of one run.

Each target compares one figure with a threshold, fixed or computed from another figure of
the same run (``worker_eps >= quix_eps``). ``met`` is None when a figure is missing (its
phase failed, or a quick run has too little work left once two workers are balanced).
A quick run checks them too, but its figures are a smoke test, not a measurement.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Target:
    key: str  # the figure measured
    op: str  # ">=" or "<="
    threshold: float  # fixed, or a factor of ``relative_to``
    what: str  # in words
    relative_to: str | None = None  # another figure of the run


TARGETS: tuple[Target, ...] = (
    Target("worker_eps", ">=", 1.0, "worker (every KPI) >= quixstreams", "quix_eps"),
    Target("worker_usage_eps", ">=", 2.0, "worker (usage only) >= 2 x quixstreams", "quix_eps"),
    Target("ratio", ">=", 0.30, "worker / bare aiokafka ceiling"),
    Target("replay_eps", ">=", 250_000, "replay events/s (split over processes)"),
    Target("rss_mb_per_100k_users", "<=", 40, "MB RSS held per 100k active users"),
    Target("rss_mb_per_100k_visitors", "<=", 40, "MB RSS held per 100k web visitors"),
    Target("freshness_p99_s", "<=", 0.5, "/progress p99 at half load (s)"),
    Target("freshness_metrics_p99_s", "<=", 1.5, "/metrics p99 at half load, 1 s scrape (s)"),
    Target("scale_2_workers", ">=", 1.5, "2 workers / 1, join included"),
    Target("scale_2_workers_steady", ">=", 1.7, "2 workers / 1, once balanced"),
    Target("recovery_s", "<=", 10, "kill -9 -> restarted worker applies new events (s)"),
)
OPS: dict[str, Callable[[float, float], bool]] = {">=": operator.ge, "<=": operator.le}


def notes(figures: dict[str, Any]) -> dict[str, str]:
    """How some figures were measured in this run (replay mode, freshness load)."""
    out: dict[str, str] = {}
    if figures.get("replay_processes") is not None:
        n = figures["replay_processes"]
        out["replay_eps"] = f"{n} process{'es' if n > 1 else ' (no --processes flag)'}"
    procs = figures.get("worker_processes")
    if procs is not None:
        one, usage_one = figures.get("worker_eps_single"), figures.get("worker_usage_eps_single")
        each = f"stream-app worker --processes {procs}"
        out["worker_eps"] = f"{each}; one process: {_eps(one)}"
        out["worker_usage_eps"] = f"{each}; one process: {_eps(usage_one)}"
        out["ratio"] = f"worker_eps ({procs} process{'es' if procs > 1 else ''})"
        out["scale_2_workers"] = out["scale_2_workers_steady"] = "over one single-process worker"
    rate, worker = figures.get("freshness_rate_eps"), figures.get("worker_eps")
    if rate and worker:
        at = f"at {rate:,.0f}/s = {100 * rate / worker:.0f} % of worker_eps"
        out["freshness_p99_s"] = out["freshness_metrics_p99_s"] = at
    return out


def _eps(value: Any) -> str:
    return f"{value:,.0f}/s" if isinstance(value, int | float) else "n/a"


def check(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per target (by figure key): what, threshold (resolved), value, met, and a note on
    how it was measured where one is due."""
    how = notes(figures)
    out: dict[str, dict[str, Any]] = {}
    for t in TARGETS:
        threshold: float | None = t.threshold
        if t.relative_to is not None:
            base = figures.get(t.relative_to)
            threshold = t.threshold * base if isinstance(base, int | float) else None
        value = figures.get(t.key)
        met = None
        if isinstance(value, int | float) and threshold is not None:
            met = OPS[t.op](value, threshold)
        rule = f"{t.op} {t.threshold:,g}"
        if t.relative_to is not None:
            rule = f"{t.op} {t.threshold:g} x {t.relative_to}"
        out[t.key] = {
            "what": t.what,
            "rule": rule,
            "threshold": threshold,
            "value": value,
            "met": met,
        }
        if t.key in how:
            out[t.key]["note"] = how[t.key]
    return out
