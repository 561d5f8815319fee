"""History from replay: ``stream-app replay --step … --openmetrics FILE`` and
``stream-app backfill --prometheus-data DIR`` (the stepping engine is
:func:`stream_app.replay.replay_steps`, the blocks :mod:`stream_app.backfill`)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from stream_app.commands.flags import add_flags, overrides

STEP_HELP = "step between expositions: Nm, Nh (fixed) or Nd (calendar days), e.g. 1h, 1d"


def add_step_flags(parser: argparse.ArgumentParser, *, default_step: str | None) -> None:
    """``--from``, ``--to`` and ``--step`` (shared by replay and backfill)."""
    parser.add_argument(
        "--from",
        dest="start",
        help="RFC 3339 time of the first step (default: 00:00 of the first event's day)",
    )
    parser.add_argument("--to", dest="end", help="RFC 3339 last time (default: the latest event)")
    parser.add_argument("--step", default=default_step, help=STEP_HELP)


def add_backfill(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    bf = sub.add_parser(
        "backfill",
        help="JSONL files in, a Prometheus data directory with the history of every cs_* "
        "metric and recording rule out",
    )
    bf.add_argument("files", nargs="+", type=Path)
    bf.add_argument(
        "--prometheus-data", required=True, type=Path, help="the Prometheus data directory"
    )
    add_step_flags(bf, default_step="1h")
    bf.add_argument("--promtool", help="promtool binary (default: on PATH)")
    bf.add_argument("--prometheus", help="prometheus binary (default: on PATH)")
    bf.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    add_flags(bf, ["timezone"])
    bf.set_defaults(func=cmd_backfill)


def _fail(message: str) -> int:
    print(f"stream-app: {message}", file=sys.stderr)
    return 2


def _times(args: argparse.Namespace) -> tuple[datetime | None, datetime | None]:
    from stream_app.timeutil import parse_as_of

    start = parse_as_of(args.start) if args.start else None
    end = parse_as_of(args.end) if args.end else None
    return start, end


def _common(args: argparse.Namespace) -> tuple[Any, datetime | None, datetime | None]:
    """Settings and --from/--to; ValueError with a one-line message on a user mistake."""
    from pydantic import ValidationError

    from stream_app.kpi.settings import KpiSettings
    from stream_app.replay import parse_step

    missing = [str(p) for p in args.files if not Path(p).is_file()]
    if missing:
        raise ValueError(f"no such file: {', '.join(missing)}")
    parse_step(args.step)
    try:
        settings = KpiSettings(**overrides(args, ["timezone"]))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    except KeyError as exc:  # zoneinfo's ZoneInfoNotFoundError for an unknown --timezone
        raise ValueError(f"--timezone: {exc.args[0] if exc.args else exc}") from None
    try:
        start, end = _times(args)
    except ValueError as exc:
        raise ValueError(f"--from/--to: {exc}") from None
    if start is not None and end is not None and end < start:
        raise ValueError("--to is before --from")
    return settings, start, end


def cmd_replay_steps(args: argparse.Namespace) -> int:
    """``replay --openmetrics FILE [--step S] [--from T] [--to T]``."""
    from stream_app.openmetrics import OpenMetricsWriter
    from stream_app.replay import replay_steps

    if not args.openmetrics:
        return _fail("--step, --from and --to go with --openmetrics FILE")
    if args.as_of or args.out:
        return _fail("--openmetrics writes every step: it does not take --as-of or --out")
    args.step = args.step or "1d"
    try:
        settings, start, end = _common(args)
        target = Path(args.openmetrics)
        if not target.parent.is_dir():
            raise ValueError(f"no such directory: {target.parent}")
        writer = OpenMetricsWriter(target)
        progress = None if args.quiet else sys.stderr
        try:
            result = replay_steps(
                args.files,
                settings,
                writer.add,
                start=start,
                end=end,
                step=args.step,
                progress=progress,
            )
        except BaseException:
            writer.discard()
            raise
        writer.close()
    except ValueError as exc:
        return _fail(str(exc))
    if not args.quiet:
        print(
            f"replay: {result.lines:,} lines, {result.steps:,} steps of {args.step} "
            f"({writer.samples:,} samples) in {result.seconds:.2f}s"
            f"{' (sorted by ts first)' if result.sorted_externally else ''} -> {target}",
            file=sys.stderr,
        )
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from stream_app.backfill import BackfillError, backfill

    try:
        settings, start, end = _common(args)
        result = backfill(
            args.files,
            args.prometheus_data,
            settings,
            start=start,
            end=end,
            step=args.step,
            progress=None if args.quiet else sys.stderr,
            promtool=args.promtool,
            prometheus=args.prometheus,
        )
    except (ValueError, BackfillError) as exc:
        return _fail(str(exc))
    if not args.quiet:
        rep = result.replay
        first = rep.first.isoformat() if rep.first else "-"
        last = rep.last.isoformat() if rep.last else "-"
        print(
            f"backfill: {rep.lines:,} lines, {rep.steps:,} steps of {args.step} from {first} "
            f"to {last}, {result.block_files:,} block files, rules in {result.rule_passes} "
            f"pass(es), {result.seconds:.1f}s -> {args.prometheus_data}. Start Prometheus "
            "with --storage.tsdb.retention.time longer than the history and "
            f"--query.lookback-delta of at least {args.step} (docs/observability.md#backfill)",
            file=sys.stderr,
        )
    return 0
