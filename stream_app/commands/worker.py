"""``stream-app worker``: the Faust worker."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from stream_app.commands.flags import WORKER_FLAGS, add_flags, overrides

if TYPE_CHECKING:
    from stream_app.settings import Settings


def add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser("worker", help="run the Faust worker")
    add_flags(worker, list(WORKER_FLAGS))
    worker.add_argument("--loglevel", default="info", help="log level: debug, info, warning, error")
    worker.set_defaults(func=cmd_worker)


def worker_argv(args: argparse.Namespace) -> list[str]:
    """``stream-app worker`` and the flags of ``args`` (the ``CS_`` variables are in the
    environment the processes of ``--processes N`` inherit)."""
    argv = ["worker", "--loglevel", args.loglevel]
    for name in WORKER_FLAGS:
        value = getattr(args, name, None)
        if value is not None:
            argv += ["--" + name.replace("_", "-"), str(value)]
    return argv


def cmd_worker(args: argparse.Namespace) -> int:
    from stream_app.settings import Settings
    from stream_app.worker.processes import die_with_supervisor, supervise

    settings = Settings(**overrides(args, list(WORKER_FLAGS)))
    if settings.processes > 1:  # the supervisor: no Faust, no Kafka in this process
        command = [sys.executable, "-m", "stream_app", *worker_argv(args)]
        return supervise(
            command, settings.processes, settings.web_host, settings.web_port, settings.data_dir
        )
    die_with_supervisor()  # a process of ``--processes N``: stop when the supervisor dies
    return run_worker(settings, args.loglevel)


def run_worker(settings: Settings, loglevel: str) -> int:
    """One Faust worker in this process, until stopped; its exit code."""
    import asyncio

    import faust
    from mode.utils.futures import maybe_cancel

    from stream_app.gc_tuning import tune_for_streaming
    from stream_app.worker.app import build_worker
    from stream_app.worker.processes import wait_for_siblings

    worker = build_worker(settings)
    runner = faust.Worker(worker.app, loglevel=loglevel)
    wait_for_siblings()  # a process of ``--processes N``: join the group with the others
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
