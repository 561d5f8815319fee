"""The naive Faust pattern, as a peer figure: one agent over the 4 topics (raw value
serializer, orjson decode) and one Faust Table write per product event that carries a
user_id (key ``account:user`` -> last active day; memory store, changelogged as usual).

    python -m bench.naive_faust --bootstrap 127.0.0.1:9092 --topics a,b,c,d --expect N

Prints one JSON line ``{"eps": ..., "seconds": ..., "events": N, "table_writes": ...}``
once the N-th event is processed, then exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from typing import Any

import faust
import orjson


def build(args: argparse.Namespace) -> tuple[faust.App, dict[str, Any]]:
    app = faust.App(
        args.group,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        datadir=args.data_dir or tempfile.mkdtemp(prefix="naive-faust-"),
        autodiscover=False,
        web_enabled=False,
        topic_partitions=4,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=6,
        broker_heartbeat_interval=2,
        broker_rebalance_timeout=6,
    )
    topic = app.topic(*args.topics.split(","), key_serializer="raw", value_serializer="raw")
    last_active = app.Table("last-active", default=str, partitions=4)
    state: dict[str, Any] = {"seen": 0, "writes": 0, "first": None, "result": None}
    expect = args.expect

    @app.agent(topic)
    async def count_active(stream: faust.StreamT[bytes]) -> None:
        async for raw in stream:
            if state["first"] is None:
                state["first"] = time.monotonic()
            event = orjson.loads(raw)
            user = event.get("user_id")
            if user is not None and "ts" in event:
                last_active[f"{event.get('account_id')}:{user}"] = str(event["ts"])[:10]
                state["writes"] += 1
            state["seen"] += 1
            if state["seen"] == expect:
                seconds = time.monotonic() - state["first"]
                state["result"] = {
                    "eps": (expect - 1) / seconds if seconds > 0 else float("inf"),
                    "seconds": seconds,
                    "events": expect,
                    "table_writes": state["writes"],
                }
                print(json.dumps(state["result"]), flush=True)
                asyncio.get_running_loop().call_soon(_exit_soon)

    return app, state


def _exit_soon() -> None:
    """The figure is printed; leave without Faust's graceful shutdown (nothing to keep)."""
    sys.stdout.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.naive_faust")
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topics", required=True, help="comma-separated topic names")
    ap.add_argument("--expect", type=int, required=True, help="events to process")
    ap.add_argument("--group", default="bench-naive-faust", help="Faust app id = group")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args(argv)
    app, _ = build(args)
    sys.argv = [sys.argv[0]]  # faust.Worker reads no flags of ours
    worker = faust.Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
