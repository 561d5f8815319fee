"""``stream-app replay``: JSONL files in, Prometheus text of every ``cs_*`` metric out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stream_app.commands.flags import add_flags, overrides
from stream_app.commands.history import add_step_flags, cmd_replay_steps


def add_replay(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rep = sub.add_parser("replay", help="JSONL files in, Prometheus text of every cs_* metric out")
    rep.add_argument("files", nargs="+", type=Path)
    rep.add_argument("--as-of", help="RFC 3339 time T (default: the latest event ts)")
    rep.add_argument("--out", help="output file (default stdout)")
    rep.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    rep.add_argument(
        "--openmetrics", help="write the exposition as of every --step to this OpenMetrics file"
    )
    add_step_flags(rep, default_step=None)
    add_flags(rep, ["timezone", "groups"])
    rep.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    if args.openmetrics or args.step or args.start or args.end:
        return cmd_replay_steps(args)
    from stream_app.kpi.settings import KpiSettings
    from stream_app.replay import replay, write_exposition
    from stream_app.timeutil import parse_as_of

    settings = KpiSettings(**overrides(args, ["timezone", "groups"]))
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
