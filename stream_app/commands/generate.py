"""``stream-app generate``: the simulated SaaS company, to a JSONL file or to Kafka."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from stream_app.commands.errors import (
    UsageError,
    output_file,
    positive_float,
    positive_int,
    rfc3339,
    share,
)


def add_generate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gen = sub.add_parser("generate", help="simulated SaaS company events (JSONL or Kafka)")
    gen.add_argument("--seed", type=int, default=42, help="random seed (same seed, same events)")
    gen.add_argument("--accounts", type=positive_int, default=200, help="simulated accounts")
    gen.add_argument("--days", type=positive_int, default=30, help="days of history")
    gen.add_argument(
        "--end", type=rfc3339, help="RFC 3339 end of the history with its offset; default: now"
    )
    gen.add_argument(
        "--out", type=output_file, help="JSONL file to write; default: stdout unless --broker"
    )
    gen.add_argument("--broker", help="produce to Kafka at this URL instead of a file")
    gen.add_argument("--topic-prefix", default="", help="prefix of the topic names")
    gen.add_argument(
        "--rate", type=positive_float, help="events per second; default: as fast as possible"
    )
    gen.add_argument("--live", action="store_true", help="after the history, keep producing live")
    gen.add_argument(
        "--churn-spike-at", type=rfc3339, help="RFC 3339 time of an injected churn spike"
    )
    gen.add_argument(
        "--churn-spike-hours", type=positive_float, default=1.0, help="length of the churn spike"
    )
    gen.add_argument("--duplicates", type=share, default=0.0, help="share of events sent twice")
    gen.add_argument("--invalid", type=share, default=0.0, help="share of extra invalid events")
    gen.add_argument(
        "--web-late", type=share, default=0.0, help="share of web events delivered late"
    )
    gen.set_defaults(func=cmd_generate)


def _config(args: argparse.Namespace) -> Any:
    from stream_app.generator import GeneratorConfig

    end = args.end or datetime.now(UTC).replace(microsecond=0)
    try:
        return GeneratorConfig(
            seed=args.seed,
            accounts=args.accounts,
            days=args.days,
            end=end,
            churn_spike_at=args.churn_spike_at,
            churn_spike_hours=args.churn_spike_hours,
            duplicate_ratio=args.duplicates,
            invalid_ratio=args.invalid,
            web_late_ratio=args.web_late,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_generate(args: argparse.Namespace) -> int:
    from stream_app.generator import generate_history, write_jsonl

    cfg = _config(args)
    if args.broker:
        from stream_app.contract import TOPICS
        from stream_app.produce import produce

        topics = {t.role: f"{args.topic_prefix}{t.default_name}" for t in TOPICS}
        events = generate_history(cfg)
        count = asyncio.run(produce(args.broker, topics, events, rate=args.rate))
        print(f"generate: {count:,} events produced to {args.broker}", file=sys.stderr)
        if args.live:
            from stream_app.generator import LiveSimulation
            from stream_app.produce import produce_live

            live = LiveSimulation(cfg)
            asyncio.run(produce_live(args.broker, topics, live.events_between, cfg.end))
        return 0
    out = "/dev/stdout" if args.out in (None, "-") else args.out
    count = write_jsonl(generate_history(cfg), out)
    print(f"generate: {count:,} events written to {out}", file=sys.stderr)
    return 0
