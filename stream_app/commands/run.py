"""``stream-app run``: the embedded local pipeline (:mod:`stream_app.dev.local`) with a
live KPI table; Ctrl-C (or ``--duration``) stops all of it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal


def add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="embedded local pipeline with a live KPI table")
    run.add_argument("--accounts", type=int, default=2000, help="simulated accounts")
    run.add_argument("--days", type=int, default=30, help="days of history replayed first")
    run.add_argument("--rate", type=float, default=3000, help="history events per second")
    run.add_argument("--partitions", type=int, default=4)
    run.add_argument("--web-port", type=int, default=6066, help="worker /metrics port")
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--refresh", type=float, default=2.0, help="seconds between table refreshes")
    run.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    run.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from stream_app.dev.local import LocalRun, run_local

    def _term(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    run = LocalRun(
        accounts=args.accounts,
        days=args.days,
        rate=args.rate,
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
