"""``stream-app schemas``: write (or check) ``schemas/*.json`` from the pydantic models."""

from __future__ import annotations

import argparse
import sys


def add_schemas(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sch = sub.add_parser("schemas", help="write schemas/*.json from the pydantic models")
    sch.add_argument("--check", action="store_true", help="exit 1 if the files are stale")
    sch.set_defaults(func=cmd_schemas)


def cmd_schemas(args: argparse.Namespace) -> int:
    from stream_app import schemas

    if args.check:
        stale = schemas.drift()
        if stale:
            print("schemas out of date: " + ", ".join(stale), file=sys.stderr)
            return 1
        return 0
    for path in schemas.write():
        print(path)
    return 0
