"""Rounding and the human-readable summary of a bench run."""

from __future__ import annotations

import io
import math
from typing import Any

from rich.console import Console
from rich.table import Table


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


def targets_table(out: dict[str, Any]) -> str:
    """The targets of the run as a plain-text table (rich, no colour codes)."""
    table = Table(
        title="targets (issue 18)" + (" - quick run: a smoke test" if out["quick"] else "")
    )
    for name, justify in (("figure", "left"), ("what", "left"), ("target", "left")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    table.add_column("threshold", justify="right")
    table.add_column("measured", justify="right")
    table.add_column("met", justify="center")
    table.add_column("note")
    for key, t in out.get("targets", {}).items():
        met = {True: "yes", False: "NO", None: "n/a"}[t["met"]]
        table.add_row(
            key,
            t["what"],
            t["rule"],
            _n(t["threshold"], none="n/a"),
            _n(t["value"], none="n/a"),
            met,
            t.get("note", ""),
        )
    buf = io.StringIO()
    Console(file=buf, width=160, color_system=None, force_terminal=False).print(table)
    return buf.getvalue()


def _shares(out: dict[str, Any], top: int = 6) -> str:
    types = out.get("details", {}).get("dataset", {}).get("types", {})
    return ", ".join(f"{t} {100 * v['share']:.1f} %" for t, v in list(types.items())[:top])


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
        f"dataset: {_n(out['events'])} generated events (30 days of history) on "
        f"{len(out['details'].get('dataset', {}).get('topics', {})) or '?'} topics x "
        "4 partitions, keyed by account (web: by visitor); every consumer below reads the "
        f"same messages; most frequent types: {_shares(out)}",
        f"workers: production settings ({out.get('worker_settings')}; the short session "
        "timeout only speeds up group joins)",
        "",
        "throughput (events/s, first event to the N-th):",
        f"  ceiling  bare aiokafka getmany, no decoding ....... {_n(out['ceiling_eps'])}",
        f"  worker   `stream-app worker --processes {out.get('worker_processes')}`, all KPIs, "
        f"state persisted (changelog) ... {_n(out['worker_eps'])}  (ratio to ceiling "
        f"{_n(out['ratio'])}); one process ... {_n(out.get('worker_eps_single'))}",
        f"  worker   the same with CS_GROUPS=usage (the peers' computation) "
        f"... {_n(out.get('worker_usage_eps'))}; one process "
        f"... {_n(out.get('worker_usage_eps_single'))}",
        f"  naive    Faust agent + one Table write per user event ... {_n(out['naive_faust_eps'])}",
        f"  quix     quixstreams 3.28.1, RocksDB state.set per user event "
        f"... {_n(out['quix_eps'])}",
        f"  replay   `stream-app replay` of the JSONL file (no Kafka), "
        f"{d.get('replay', {}).get('mode', '?')} ... {_n(out['replay_eps'])}; single process "
        f"... {_n(out.get('replay_eps_single'))} (same exposition: "
        f"{d.get('replay', {}).get('same_output', 'n/a')}); with the company group only "
        f"(parsing, dedupe and keys' state: the floor) ... {_n(out.get('replay_floor_eps'))}",
        f"  2 workers, one group (4 partitions) ... {_n(out['scale_2_workers_eps'])} = "
        f"{_n(out['scale_2_workers'])} x one single-process worker; the broker and both "
        f"workers share {m['cpus']} cores; includes the rebalance when the 2nd joins "
        f"(first batch -> balanced: {_n(scale.get('first_batch_to_balanced_s'), ' s')}); "
        f"after both own their partitions: "
        f"{_n(out.get('scale_2_workers_steady'), ' x', 'n/a (under 20 % of the work was left)')}",
        "",
        f"freshness at {_n(out['freshness_rate_eps'])} fresh events/s (half the worker's rate, "
        f"capped at what the producer does; target {_n(fr.get('target_rate_eps'))}/s):",
        f"  /progress: p50 {_n(out['freshness_p50_s'], ' s')}, p99 "
        f"{_n(out['freshness_p99_s'], ' s')}: time the i-th event was handed to the producer "
        "(a batch per partition every ~2 ms) -> first 50 ms poll of GET /progress whose "
        "handled count grew by >= i "
        "(resolution 50 ms + one request; counts, not ids)",
        f"  /metrics:  p50 {_n(out['freshness_metrics_p50_s'], ' s')}, p99 "
        f"{_n(out['freshness_metrics_p99_s'], ' s')}: the same against full /metrics scrapes "
        "every 1 s (sum of cs_events*_total); resolution 1 s + one scrape "
        f"(scrape p50 {_n(fr.get('metrics_scrape_p50_s'), ' s')})",
        "",
        f"memory held: {_n(out['rss_mb_per_100k_users'], ' MB')} RSS per 100k active users "
        f"(VmRSS idle {_n(mem.get('rss_idle_mb'), ' MB')} -> "
        f"{_n(mem.get('rss_loaded_mb'), ' MB')} after sessions of {_n(mem.get('users'))} "
        "users over users/20 accounts, within the 30-day window); "
        f"{_n(out.get('rss_mb_per_100k_visitors'), ' MB')} per 100k web visitors (another "
        f"fresh worker: {_n(mem.get('visitors_rss_idle_mb'), ' MB')} -> "
        f"{_n(mem.get('visitors_rss_loaded_mb'), ' MB')} after one 5-event visit of each of "
        f"{_n(mem.get('visitors'))} visitors); read once the worker has caught up, committed "
        f"and trimmed ({_n(mem.get('held_after_s'), ' s')} / "
        f"{_n(mem.get('visitors_held_after_s'), ' s')} after the peak reading)",
        f"memory peak: {_n(out.get('rss_peak_mb_per_100k_users'), ' MB')} per 100k users "
        f"({_n(mem.get('rss_peak_loaded_mb'), ' MB')}), "
        f"{_n(out.get('rss_peak_mb_per_100k_visitors'), ' MB')} per 100k visitors "
        f"({_n(mem.get('visitors_rss_peak_loaded_mb'), ' MB')}): read the moment /progress "
        "shows the last event handled (held + the backlog's transient memory)",
        f"recovery: {_n(out['recovery_s'], ' s')} from restarting a kill -9'd worker holding "
        f"{_n(mem.get('users'))} users until {_n(mem.get('recovery_new_events'))} events "
        "produced right after the restart are applied; includes process start, group join "
        "(the dead member is evicted after the 6 s session timeout), changelog recovery "
        f"({mem.get('recovery_breakdown', {})})",
    ]
    lines += ["", targets_table(out)]
    if out.get("errors"):
        lines += ["", "ERRORS:"] + [f"  {k}: {v}" for k, v in out["errors"].items()]
    return "\n".join(lines) + "\n"
