"""``stream-app worker``: the Faust worker."""

from __future__ import annotations

import argparse
import sys

from stream_app.commands.flags import WORKER_FLAGS, add_flags, overrides


def add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser("worker", help="run the Faust worker")
    add_flags(worker, list(WORKER_FLAGS))
    worker.add_argument("--loglevel", default="info", help="log level: debug, info, warning, error")
    worker.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    import asyncio

    import faust
    from mode.utils.futures import maybe_cancel

    from stream_app.gc_tuning import tune_for_streaming
    from stream_app.settings import Settings
    from stream_app.worker.app import build_worker

    settings = Settings(**overrides(args, list(WORKER_FLAGS)))
    worker = build_worker(settings)
    runner = faust.Worker(worker.app, loglevel=args.loglevel)
    tune_for_streaming()

    async def stop() -> None:  # as on SIGTERM: leave the group, stop the services
        await runner.stop()
        maybe_cancel(runner._starting_fut)

    stopping: list[asyncio.Future[None]] = []

    def on_fatal(message: str) -> None:
        stopping.append(asyncio.ensure_future(stop()))

    worker.on_fatal = on_fatal
    try:
        runner.execute_from_commandline()
    except SystemExit:
        if worker.fatal is None:
            raise
    if worker.fatal is not None:  # a set-up the worker must not run on: one line, exit 2
        print(f"stream-app worker: {worker.fatal}", file=sys.stderr)
        return 2
    return 0
