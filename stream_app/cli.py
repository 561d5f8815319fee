"""``stream-app``: worker, replay, generate, schemas and the embedded local run."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stream_app.timeutil import parse_as_of

WORKER_FLAGS: dict[str, tuple[type, str]] = {
    "broker": (str, "Kafka URL, e.g. kafka://127.0.0.1:9092 (CS_BROKER)"),
    "app_id": (str, "Faust app id = consumer group (CS_APP_ID)"),
    "partitions": (int, "partition count of every topic (CS_PARTITIONS)"),
    "web_host": (str, "bind address of /metrics (CS_WEB_HOST, default 127.0.0.1)"),
    "web_port": (int, "port of /metrics (CS_WEB_PORT)"),
    "timezone": (str, "IANA timezone of calendar days (CS_TIMEZONE)"),
    "data_dir": (str, "Faust data directory (CS_DATA_DIR)"),
    "topic_product": (str, "product events topic"),
    "topic_billing": (str, "billing events topic"),
    "topic_feedback": (str, "feedback events topic"),
    "topic_support": (str, "support events topic"),
    "topic_dead_letters": (str, "dead-letter topic"),
}


def _add_flags(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    for name in names:
        kind, text = WORKER_FLAGS[name]
        parser.add_argument("--" + name.replace("_", "-"), dest=name, type=kind, help=text)


def _overrides(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}


def cmd_worker(args: argparse.Namespace) -> int:
    import faust

    from stream_app.settings import Settings
    from stream_app.worker.app import build_worker

    settings = Settings(**_overrides(args, list(WORKER_FLAGS)))
    worker = build_worker(settings)
    faust.Worker(worker.app, loglevel=args.loglevel).execute_from_commandline()
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from stream_app.replay import replay, write_exposition
    from stream_app.settings import KpiSettings

    settings = KpiSettings(**_overrides(args, ["timezone"]))
    as_of = parse_as_of(args.as_of) if args.as_of else None
    progress = None if args.quiet else sys.stderr
    result = replay(args.files, settings, as_of, progress)
    write_exposition(result, args.out)
    if not args.quiet:
        core = result.core
        print(
            f"replay: {result.lines:,} lines in {result.seconds:.2f}s "
            f"({result.events_per_second:,.0f} events/s); "
            f"accepted {sum(core.type_counts.values()):,}, "
            f"duplicates {core.duplicates:,}, rejected {sum(core.rejected.values()):,}; "
            f"as of {result.as_of.isoformat()}",
            file=sys.stderr,
        )
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stream-app", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    worker = sub.add_parser("worker", help="run the Faust worker")
    _add_flags(worker, list(WORKER_FLAGS))
    worker.add_argument("--loglevel", default="info")
    worker.set_defaults(func=cmd_worker)

    rep = sub.add_parser("replay", help="JSONL files in, Prometheus text of every cs_* metric out")
    rep.add_argument("files", nargs="+", type=Path)
    rep.add_argument("--as-of", help="RFC 3339 time T (default: the latest event ts)")
    rep.add_argument("--out", help="output file (default stdout)")
    rep.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    _add_flags(rep, ["timezone"])
    rep.set_defaults(func=cmd_replay)

    sch = sub.add_parser("schemas", help="write schemas/*.json from the pydantic models")
    sch.add_argument("--check", action="store_true", help="exit 1 if the files are stale")
    sch.set_defaults(func=cmd_schemas)

    from stream_app.cli_generate import add_generate
    from stream_app.deadletters import add_dead_letters
    from stream_app.local import add_run

    add_generate(sub)
    add_run(sub)
    add_dead_letters(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
