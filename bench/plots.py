"""PNG plots of a bench run (matplotlib, Agg backend).

python -m bench.plots bench/results.json bench/plots   # redraw from a run's JSON
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def write_plots(out: dict[str, Any], directory: Path) -> list[Path]:
    """throughput.png always; freshness.png when the run measured several loads."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    processes = out.get("replay_processes") or 1
    candidates = [
        ("bare aiokafka\n(ceiling)", out.get("ceiling_eps")),
        ("worker\n(every KPI)", out.get("worker_eps")),
        ("worker\n(usage only)", out.get("worker_usage_eps")),
        ("2 workers", out.get("scale_2_workers_eps")),
        ("naive Faust\n(table/event)", out.get("naive_faust_eps")),
        ("quixstreams\n(RocksDB state)", out.get("quix_eps")),
        (f"replay\n({processes} processes)", out.get("replay_eps") if processes > 1 else None),
        ("replay\n(1 process)", out.get("replay_eps_single")),
    ]
    bars: list[tuple[str, float]] = [(name, float(v)) for name, v in candidates if v]
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.bar([b[0] for b in bars], [b[1] for b in bars], color="#4477aa")
    for i, (_, v) in enumerate(bars):
        ax.annotate(f"{v:,.0f}", (i, v), ha="center", va="bottom", fontsize=9)
    ax.set_yscale("log")
    ax.set_ylabel("events/s (log scale)")
    web = out.get("details", {}).get("dataset", {}).get("types", {}).get("page_viewed")
    mix = f", page views {100 * web['share']:.0f} %" if web else ""
    ax.set_title(
        f"{out.get('events', 0):,} events{mix}, {out['machine']['cpus']} CPUs shared with the "
        f"broker ({out.get('date', '')[:10]})"
    )
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    path = directory / "throughput.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    written.append(path)

    curve = out.get("freshness_curve") or []
    if len(curve) > 1:
        fig, ax = plt.subplots(figsize=(7, 4.5))
        rates = [c["rate_eps"] for c in curve]
        for key, label in (
            ("p50_s", "p50 (/progress)"),
            ("p99_s", "p99 (/progress)"),
            ("metrics_p99_s", "p99 (/metrics, 1 s polls)"),
        ):
            ax.plot(rates, [c[key] for c in curve], marker="o", label=label)
        for c in curve:
            ax.annotate(f"{c['load']:.0%}", (c["rate_eps"], c["p99_s"]), fontsize=8)
        ax.set_xlabel("offered load (fresh events/s; % of the worker's throughput)")
        ax.set_ylabel("seconds from production to visible")
        ax.set_title("freshness against offered load")
        ax.legend()
        fig.tight_layout()
        path = directory / "freshness.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.plots", description=__doc__)
    ap.add_argument("results", type=Path, help="the JSON of a run (--json-out)")
    ap.add_argument("directory", type=Path, help="where to write the PNG files")
    args = ap.parse_args(argv)
    for path in write_plots(json.loads(args.results.read_text()), args.directory):
        print(path)


if __name__ == "__main__":
    main()
