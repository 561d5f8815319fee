"""``stream-app run``: the embedded local pipeline (:mod:`stream_app.dev.local`) with a
live KPI table; Ctrl-C (or ``--duration``) stops all of it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from stream_app.commands.errors import UsageError, port, positive_float, positive_int
from stream_app.dev.config import LocalRun


def add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="embedded local pipeline with a live KPI table")
    defaults = LocalRun()
    run.add_argument(
        "--accounts", type=positive_int, default=defaults.accounts, help="simulated accounts"
    )
    run.add_argument(
        "--days", type=positive_int, default=defaults.days, help="days of history loaded first"
    )
    run.add_argument(
        "--rate",
        type=positive_float,
        default=defaults.rate,
        help="history events per second while loading",
    )
    run.add_argument(
        "--speed",
        type=positive_float,
        default=defaults.speed,
        help="after the history, simulated seconds per wall-clock second (events are "
        "stamped with the wall clock; 1: real time)",
    )
    run.add_argument(
        "--partitions", type=positive_int, default=defaults.partitions, help="topic partitions"
    )
    run.add_argument(
        "--web-port", type=port, default=defaults.web_port, help="worker /metrics and API port"
    )
    run.add_argument("--seed", type=int, default=defaults.seed, help="random seed")
    run.add_argument(
        "--refresh",
        type=positive_float,
        default=defaults.refresh,
        help="seconds between table refreshes",
    )
    run.add_argument(
        "--duration", type=positive_float, help="stop after N seconds; default: on Ctrl-C"
    )
    run.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from stream_app.dev.local import port_in_use, run_local

    def _term(*_: object) -> None:
        raise KeyboardInterrupt

    if port_in_use(args.web_port):
        raise UsageError(f"port {args.web_port} is in use: pass another --web-port")
    signal.signal(signal.SIGTERM, _term)
    run = LocalRun(
        accounts=args.accounts,
        days=args.days,
        rate=args.rate,
        speed=args.speed,
        partitions=args.partitions,
        web_port=args.web_port,
        seed=args.seed,
        refresh=args.refresh,
        duration=args.duration,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_local(run))
    print("\nstopped: worker, generator and Kafka are down.")
    return 0
