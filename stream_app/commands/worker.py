"""``stream-app worker``: the Faust worker."""

from __future__ import annotations

import argparse

from stream_app.commands.flags import WORKER_FLAGS, add_flags, overrides


def add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser("worker", help="run the Faust worker")
    add_flags(worker, list(WORKER_FLAGS))
    worker.add_argument("--loglevel", default="info", help="log level: debug, info, warning, error")
    worker.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    import faust

    from stream_app.settings import Settings
    from stream_app.worker.app import build_worker

    settings = Settings(**overrides(args, list(WORKER_FLAGS)))
    worker = build_worker(settings)
    faust.Worker(worker.app, loglevel=args.loglevel).execute_from_commandline()
    return 0
