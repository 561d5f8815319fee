"""Worker throughput against batch size: the same events, one `stream-app worker` per
``CS_MAX_POLL_RECORDS`` value (the most records one fetch hands to the core), plus the
bare-consumer ceiling of the same run. Prints one JSON line; ``--plot`` writes a PNG.

    .venv/bin/python -m bench.batch_curve [--accounts 3000] [--plot batch_size.png]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ceiling import ceiling_eps
from bench.data import make_dataset, make_topics, produce_records
from bench.procs import WorkerProcess, progress, wait_for

SIZES: tuple[int | None, ...] = (10, 50, 200, 1000, None)


def one_worker(bootstrap: str, tmp: Path, size: int | None, events: int) -> float:
    """Events/s of one worker (its own group) over the ``events`` messages of "curve"."""
    env = {"CS_APP_ID": f"curve-{size}-{time.monotonic_ns()}", "CS_COMMIT_INTERVAL_S": "1.0"}
    if size is not None:
        env["CS_MAX_POLL_RECORDS"] = str(size)
    worker = WorkerProcess(bootstrap, "curve", tmp, env=env).start()
    try:
        done = wait_for(
            lambda: (p := progress(worker))["handled"] >= events and p, 1800, "all events", 0.1
        )
    finally:
        worker.stop(signal.SIGKILL)
    return float(done["handled"] / (done["last_batch_at"] - done["first_batch_at"]))


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = result["points"]
    labels = [str(p["max_poll_records"] or "no cap") for p in points]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(labels, [p["eps"] for p in points], marker="o", label="stream-app worker")
    for label, p in zip(labels, points, strict=True):
        ax.annotate(f"{p['eps']:,.0f}", (label, p["eps"]), fontsize=8)
    ax.set_xlabel("records per fetch (CS_MAX_POLL_RECORDS)")
    ax.set_ylabel("events/s")
    ax.set_ylim(bottom=0)
    ax.set_title(
        f"worker throughput against batch size\n({result['events']:,} events; "
        f"bare consumer on the same broker: {result['ceiling_eps']:,.0f}/s)",
        fontsize=10,
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    from stream_app.dev.broker import LocalKafka

    ap = argparse.ArgumentParser(prog="python -m bench.batch_curve", description=__doc__)
    ap.add_argument("--accounts", type=int, default=3000)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cs-curve-"))
    ds = make_dataset(args.accounts, tmp)
    with LocalKafka() as kafka:
        topics = asyncio.run(make_topics(kafka.bootstrap, "curve"))
        asyncio.run(produce_records(kafka.bootstrap, topics, ds.records))
        ceiling = asyncio.run(ceiling_eps(kafka.bootstrap, list(topics.values()), ds.events))
        points = [
            {"max_poll_records": size, "eps": round(one_worker(kafka.bootstrap, tmp, size, n))}
            for size in SIZES
            for n in [ds.events]
        ]
    result = {"events": ds.events, "ceiling_eps": round(ceiling["eps"]), "points": points}
    if args.plot:
        plot(result, args.plot)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
