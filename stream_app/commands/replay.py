"""``stream-app replay``: JSONL files in, Prometheus text of every ``cs_*`` metric out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stream_app.commands.errors import input_file, output_file, rfc3339
from stream_app.commands.flags import add_flags, overrides
from stream_app.commands.history import add_step_flags, cmd_replay_steps


def add_replay(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rep = sub.add_parser("replay", help="JSONL files in, Prometheus text of every cs_* metric out")
    rep.add_argument("files", nargs="+", type=input_file, help="JSONL files, one event a line")
    rep.add_argument(
        "--as-of",
        type=rfc3339,
        help="RFC 3339 time T with its offset; default: the latest event ts",
    )
    rep.add_argument("--out", type=output_file, help="output file; default: stdout")
    rep.add_argument(
        "--rejects-out",
        type=output_file,
        help="write each rejected line here as JSONL (file, line number, reason, detail, text)",
    )
    rep.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    rep.add_argument(
        "--openmetrics", help="write the exposition as of every --step to this OpenMetrics file"
    )
    add_step_flags(rep, default_step=None)
    add_flags(rep, ["timezone", "groups"])
    rep.set_defaults(func=cmd_replay)


def summary_line(result: object) -> str:
    """The one-line summary of a replay, rejects broken down by reason."""
    from stream_app.replay import ReplayResult

    assert isinstance(result, ReplayResult)
    core = result.core
    rejected = sum(core.rejected.values())
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in core.rejected.most_common() if n)
    return (
        f"replay: {result.lines:,} lines in {result.seconds:.2f}s "
        f"({result.events_per_second:,.0f} events/s); "
        f"accepted {sum(core.type_counts.values()):,}, "
        f"duplicates {core.duplicates:,}, rejected {rejected:,}"
        + (f" ({reasons})" if reasons else "")
        + f"; as of {result.as_of.isoformat()}"
    )


def cmd_replay(args: argparse.Namespace) -> int:
    if args.openmetrics or args.step or args.start or args.end:
        return cmd_replay_steps(args)
    from stream_app.kpi.settings import KpiSettings
    from stream_app.replay import RejectsWriter, replay, write_exposition
    from stream_app.replay_progress import progress_for

    settings = KpiSettings(**overrides(args, ["timezone", "groups"]))
    files: list[Path] = args.files
    progress = (
        None if args.quiet else progress_for(sys.stderr, sum(p.stat().st_size for p in files))
    )
    rejects = RejectsWriter(args.rejects_out) if args.rejects_out else None
    try:
        result = replay(files, settings, args.as_of, progress, rejects)
    finally:
        if rejects is not None:
            rejects.close()
    write_exposition(result, args.out)
    if not args.quiet:
        print(summary_line(result), file=sys.stderr)
        if rejects is not None:
            print(
                f"replay: {rejects.count:,} rejected lines written to {rejects.path}",
                file=sys.stderr,
            )
    return 0
