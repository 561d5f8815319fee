"""Rounding and the human-readable summary of a bench run."""

from __future__ import annotations

import math
from typing import Any


def rounded(value: Any, key: str = "") -> Any:
    """Floats rounded for reading (nested): events/s (keys ending in ``eps``) and values
    >= 1000 to int, others to 3 significant digits; NaN/inf -> None."""
    if isinstance(value, dict):
        return {k: rounded(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, key) for v in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if abs(value) >= 1000 or key.endswith("eps"):
            return round(value)
        if value == 0:
            return 0.0
        return round(value, max(0, 2 - math.floor(math.log10(abs(value)))))
    return value


def _n(value: Any, unit: str = "", none: str = "n/a (failed, see errors)") -> str:
    if value is None:
        return none
    if isinstance(value, int) or (isinstance(value, float) and abs(value) >= 1000):
        return f"{value:,.0f}{unit}"
    return f"{value}{unit}"


def render(out: dict[str, Any]) -> str:
    """The summary printed before the JSON line."""
    d = out.get("details", {})
    m = out["machine"]
    fr = d.get("freshness_50", {})
    mem = d.get("memory_recovery", {})
    scale = d.get("scale_2_workers", {})
    lines = [
        "",
        f"== stream-app bench ({'quick' if out['quick'] else 'full'}) {out['date']} ==",
        f"machine: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, load average "
        f"{m.get('loadavg_1m_at_start')} at start (other processes skew every figure); "
        f"Apache Kafka {out['kafka_version']} (KRaft, single node, loopback) on the same "
        "machine, so the broker shares the CPUs with whatever is measured",
        f"dataset: {_n(out['events'])} generated events (30 days of history) on 4 topics x "
        "4 partitions, keyed by account; every consumer below reads the same messages",
        f"workers: production settings ({out.get('worker_settings')}; the short session "
        "timeout only speeds up group joins)",
        "",
        "throughput (events/s, first event to the N-th):",
        f"  ceiling  bare aiokafka getmany, no decoding ....... {_n(out['ceiling_eps'])}",
        f"  worker   one `stream-app worker`, all KPIs, state persisted (changelog) "
        f"... {_n(out['worker_eps'])}  (ratio to ceiling {_n(out['ratio'])})",
        f"  naive    Faust agent + one Table write per user event ... {_n(out['naive_faust_eps'])}",
        f"  quix     quixstreams 3.28.1, RocksDB state.set per user event "
        f"... {_n(out['quix_eps'])}",
        f"  replay   stream_app.replay of the JSONL file (no Kafka) ... {_n(out['replay_eps'])}",
        f"  2 workers, one group (4 partitions) ... {_n(out['scale_2_workers_eps'])} = "
        f"{_n(out['scale_2_workers'])} x one worker; the broker and both workers share "
        f"{m['cpus']} cores; includes the rebalance when the 2nd joins "
        f"(first batch -> balanced: {_n(scale.get('first_batch_to_balanced_s'), ' s')}); "
        f"after both own their partitions: "
        f"{_n(out.get('scale_2_workers_steady'), ' x', 'n/a (under 20 % of the work was left)')}",
        "",
        f"freshness at {_n(out['freshness_rate_eps'])} fresh events/s (half the worker's rate, "
        f"capped at what the producer does; target {_n(fr.get('target_rate_eps'))}/s):",
        f"  /progress: p50 {_n(out['freshness_p50_s'], ' s')}, p99 "
        f"{_n(out['freshness_p99_s'], ' s')}: time the i-th event was handed to the producer "
        "(linger 5 ms) -> first 50 ms poll of GET /progress whose handled count grew by >= i "
        "(resolution 50 ms + one request; counts, not ids)",
        f"  /metrics:  p50 {_n(out['freshness_metrics_p50_s'], ' s')}, p99 "
        f"{_n(out['freshness_metrics_p99_s'], ' s')}: the same against full /metrics scrapes "
        "every 1 s (sum of cs_events*_total); resolution 1 s + one scrape "
        f"(scrape p50 {_n(fr.get('metrics_scrape_p50_s'), ' s')})",
        "",
        f"memory: {_n(out['rss_mb_per_100k_users'], ' MB')} RSS per 100k active users "
        f"(VmRSS idle {_n(mem.get('rss_idle_mb'), ' MB')} -> "
        f"{_n(mem.get('rss_loaded_mb'), ' MB')} after sessions of {_n(mem.get('users'))} "
        "users over users/20 accounts, within the 30-day window)",
        f"recovery: {_n(out['recovery_s'], ' s')} from restarting a kill -9'd worker holding "
        f"{_n(mem.get('users'))} users until {_n(mem.get('recovery_new_events'))} events "
        "produced right after the restart are applied; includes process start, group join "
        "(the dead member is evicted after the 6 s session timeout), changelog recovery "
        f"({mem.get('recovery_breakdown', {})})",
    ]
    if out.get("errors"):
        lines += ["", "ERRORS:"] + [f"  {k}: {v}" for k, v in out["errors"].items()]
    return "\n".join(lines) + "\n"
