"""``stream-app collect``: the HTTP ingest service (events over HTTP, the browser tracker)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from stream_app.commands.flags import add_flags, overrides

#: flags of ``collect`` that override ``CS_COLLECT_*`` settings
COLLECT_FLAGS: dict[str, tuple[type, str]] = {
    "collect_host": (str, "bind address (CS_COLLECT_HOST, default 127.0.0.1)"),
    "collect_port": (int, "port (CS_COLLECT_PORT, default 6080)"),
    "collect_origins": (str, "browser origins allowed on /v1/web, comma-separated"),
}


def add_collect(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    col = sub.add_parser("collect", help="HTTP ingest: POST events, the browser tracker")
    add_flags(col, ["broker"])
    for name, (kind, text) in COLLECT_FLAGS.items():
        flag = "--" + name.removeprefix("collect_").replace("_", "-")
        col.add_argument(flag, dest=name, type=kind, help=text)
    col.set_defaults(func=cmd_collect)


def cmd_collect(args: argparse.Namespace) -> int:
    import logging

    from pydantic import ValidationError

    from stream_app.collect.server import serve
    from stream_app.collect.settings import CollectSettings

    try:
        settings = CollectSettings(**overrides(args, ["broker", *COLLECT_FLAGS]))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"])
        print(f"stream-app collect: {where}: {err['msg']}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    def ready(url: str) -> None:
        print(f"collector on {url} (POST /v1/events, /v1/web; /tracker.js)", flush=True)

    try:
        asyncio.run(serve(settings, ready))
    except OSError as exc:  # e.g. the port is taken
        print(f"stream-app collect: {exc}", file=sys.stderr)
        return 2
    return 0
