"""quixstreams as a peer figure: the same active-user computation as bench.naive_faust
(per-key RocksDB state keyed by account: ``state.set(user_id, day)`` for every product event
that carries a user_id), one StreamingDataFrame per source topic, own consumer group.

    python -m bench.quix --bootstrap 127.0.0.1:9092 --topics a,b,c,d --expect N

Prints one JSON line ``{"eps": ..., "seconds": ..., "events": N, "state_writes": ...}``
once the N-th event is processed, then exits.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from typing import Any

from quixstreams import Application, State


def run(args: argparse.Namespace) -> dict[str, Any]:
    stats: dict[str, Any] = {"seen": 0, "writes": 0, "first": None, "seconds": None}
    expect = args.expect

    def last_active(value: dict[str, Any], state: State) -> None:
        user = value.get("user_id")
        if user is not None and "ts" in value:
            state.set(user, str(value["ts"])[:10])
            stats["writes"] += 1

    def on_processed(topic: str, partition: int, offset: int) -> None:
        if stats["first"] is None:
            stats["first"] = time.monotonic()
        stats["seen"] += 1
        if stats["seen"] == expect:
            stats["seconds"] = time.monotonic() - stats["first"]
            app.stop()

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.data_dir or tempfile.mkdtemp(prefix="bench-quix-"),
        loglevel="WARNING",
        on_message_processed=on_processed,  # called for the messages of every topic
    )
    names = args.topics.split(",")
    for i, name in enumerate(names):
        sdf = app.dataframe(app.topic(name, value_deserializer="json"))
        if i == 0:  # the product topic comes first
            sdf.update(last_active, stateful=True)
    app.run()
    seconds = stats["seconds"]
    if seconds is None:
        raise RuntimeError(f"quix stopped after {stats['seen']}/{expect} events")
    return {
        "eps": (expect - 1) / seconds if seconds > 0 else float("inf"),
        "seconds": seconds,
        "events": expect,
        "state_writes": stats["writes"],
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.quix")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topics", required=True, help="comma-separated, product topic first")
    ap.add_argument("--expect", type=int, required=True, help="events to process")
    ap.add_argument("--group", default="bench-quix")
    ap.add_argument("--data-dir", default=None, help="state dir (default: a temp dir)")
    args = ap.parse_args(argv)
    logging.getLogger("quixstreams").setLevel(logging.WARNING)
    result = run(args)
    print(json.dumps(result), flush=True)
    sys.stdout.flush()
    os._exit(0)  # the figure is printed; skip the slow shutdown of the client threads


if __name__ == "__main__":
    main()
