"""``stream-app replay``: JSONL files in, Prometheus text of every ``cs_*`` metric out."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from stream_app.commands.errors import (
    UsageError,
    input_file,
    output_file,
    processes_arg,
    rfc3339,
)
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
        "--processes",
        type=processes_arg,
        default="auto",
        help="processes to split the events over by key (as partitions over workers; the "
        "output is the same): a number, or auto = one per CPU up to CS_PARTITIONS, one for "
        "files under 8 MiB",
    )
    rep.add_argument(
        "--openmetrics", help="write the exposition as of every --step to this OpenMetrics file"
    )
    add_step_flags(rep, default_step=None)
    add_flags(rep, ["timezone", "groups"])
    rep.set_defaults(func=cmd_replay)


def summary_line(result: object) -> str:
    """The one-line summary of a replay, rejects broken down by reason."""
    from stream_app.compiled import active
    from stream_app.replay import ReplayResult
    from stream_app.replay_split import SplitResult, single_result

    if isinstance(result, ReplayResult):
        result = single_result(result)
    assert isinstance(result, SplitResult)
    rejected = sum(result.rejected.values())
    reasons = ", ".join(f"{reason} {n:,}" for reason, n in result.rejected.most_common() if n)
    return (
        f"replay: {result.lines:,} lines in {result.seconds:.2f}s "
        f"({result.events_per_second:,.0f} events/s); "
        f"accepted {result.accepted:,}, "
        f"duplicates {result.duplicates:,}, rejected {rejected:,}"
        + (f" ({reasons})" if reasons else "")
        + f"; as of {result.as_of.isoformat()}"
        + f"; core: {active()}"
    )


def cmd_replay(args: argparse.Namespace) -> int:
    if args.openmetrics or args.step or args.start or args.end:
        if args.processes not in ("auto", 1):
            raise UsageError(
                "--processes splits the plain exposition; --step, --from, --to and "
                "--openmetrics replay on one process (leave --processes out)"
            )
        return cmd_replay_steps(args)
    from stream_app.gc_tuning import tune_for_streaming
    from stream_app.kpi.settings import KpiSettings
    from stream_app.replay import RejectsWriter, write_output
    from stream_app.replay_progress import progress_for
    from stream_app.replay_split import auto_processes, replay_split

    tune_for_streaming()
    settings = KpiSettings(**overrides(args, ["timezone", "groups"]))
    files: list[Path] = args.files
    partitions = _partitions()
    processes = auto_processes(files, partitions) if args.processes == "auto" else args.processes
    progress = None if args.quiet else progress_for(sys.stderr, _size(files))
    rejects = RejectsWriter(args.rejects_out) if args.rejects_out else None
    try:
        result = replay_split(
            files,
            settings,
            args.as_of,
            processes=processes,
            partitions=partitions,
            progress=progress,
            rejects=rejects,
        )
    finally:
        if rejects is not None:
            rejects.close()
    write_output(result.exposition(), args.out)
    if not args.quiet:
        print(summary_line(result), file=sys.stderr)
        if result.single_reason is not None and args.processes != "auto":
            print(f"replay: on one process: {result.single_reason}", file=sys.stderr)
        if rejects is not None:
            print(
                f"replay: {rejects.count:,} rejected lines written to {rejects.path}",
                file=sys.stderr,
            )
    return 0


def _partitions() -> int:
    """``CS_PARTITIONS``: the partition count of the topics (how keys are split)."""
    from stream_app.settings import Settings

    text = os.environ.get("CS_PARTITIONS")
    if text is None:
        return int(Settings.model_fields["partitions"].default)
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"CS_PARTITIONS={text!r}: write a whole number from 1")
    return value


def _size(files: list[Path]) -> int:
    """Input bytes (0 for a pipe)."""
    return sum(p.stat().st_size for p in files if p.is_file())
