"""``stream-app``, the entry point: the parser of the commands in :mod:`stream_app.commands`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from stream_app.commands.backfill import add_backfill
from stream_app.commands.dead_letters import add_dead_letters
from stream_app.commands.generate import add_generate
from stream_app.commands.replay import add_replay
from stream_app.commands.run import add_run
from stream_app.commands.schemas import add_schemas
from stream_app.commands.worker import add_worker

DESCRIPTION = (
    "Live customer-success KPIs: worker, replay, backfill, generate, schemas, dead letters, run."
)
#: the subcommands, in ``--help`` order
COMMANDS = (
    add_worker,
    add_replay,
    add_backfill,
    add_schemas,
    add_generate,
    add_run,
    add_dead_letters,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stream-app", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
