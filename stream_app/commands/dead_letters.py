"""``stream-app dead-letters``: show the dead-letter topic, and re-submit fixed events.

``show`` reads the topic from the beginning to its current end (no consumer group) and
prints one line per record; ``--out FILE`` also writes them as JSONL, one object per
record with the original message as text in ``value``. Fix the ``value`` of the lines you
want back, delete the others, and ``resubmit FILE`` sends each valid one to its source
topic, keyed by its ``account_id``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from stream_app.commands.errors import UsageError, input_file, output_file, positive_int
from stream_app.contract import Rejection, message_key, parse_event
from stream_app.produce import bootstrap_of
from stream_app.worker.deadletter import (
    HEADER_DETAIL,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_REASON,
    HEADER_TOPIC,
)


def record_view(
    partition: int, offset: int, value: bytes | None, headers: Iterable[tuple[str, bytes]]
) -> dict[str, Any]:
    """One dead-letter record as a JSON-able dict."""
    h = {k: v.decode("utf-8", "replace") for k, v in headers}
    raw = value or b""
    return {
        "reason": h.get(HEADER_REASON, "?"),
        "detail": h.get(HEADER_DETAIL, ""),
        "source": {
            "topic": h.get(HEADER_TOPIC, ""),
            "partition": int(h.get(HEADER_PARTITION, "-1")),
            "offset": int(h.get(HEADER_OFFSET, "-1")),
        },
        "dead_letter": {"partition": partition, "offset": offset},
        "value": raw.decode("utf-8", "replace"),
        "value_b64": base64.b64encode(raw).decode(),
    }


async def read_dead_letters(
    broker: str, topic: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """Every record of ``topic`` from the beginning to the end at call time."""
    bootstrap = bootstrap_of(broker)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    parts = [p["partition"] for t in described if t["error_code"] == 0 for p in t["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: list[dict[str, Any]] = []
    try:
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return out
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining and (limit is None or len(out) < limit):
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batch.items():
                for rec in records:
                    if rec.offset < end[tp]:
                        out.append(record_view(tp.partition, rec.offset, rec.value, rec.headers))
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    out.sort(key=lambda r: (r["dead_letter"]["partition"], r["dead_letter"]["offset"]))
    return out[:limit] if limit is not None else out


async def resubmit(broker: str, entries: Iterable[dict[str, Any]]) -> tuple[int, list[str]]:
    """Send each entry's (fixed) ``value`` to its source topic; returns (sent, problems)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_of(broker))
    await producer.start()
    sent, problems = 0, []
    try:
        for n, entry in enumerate(entries, 1):
            value = str(entry.get("value", "")).encode()
            topic = entry.get("source", {}).get("topic")
            event = parse_event(value)
            if isinstance(event, Rejection):
                problems.append(f"entry {n}: still invalid ({event.reason}: {event.detail})")
                continue
            if not topic:
                problems.append(f"entry {n}: no source topic")
                continue
            await producer.send_and_wait(topic, value, key=message_key(event).encode())
            sent += 1
    finally:
        await producer.stop()
    return sent, problems


def add_dead_letters(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dl = sub.add_parser("dead-letters", help="show the dead-letter topic; re-submit fixed events")
    dl.add_argument("action", choices=["show", "resubmit"], help="show or resubmit")
    dl.add_argument(
        "file", nargs="?", type=input_file, help="resubmit: the JSONL written by show --out, fixed"
    )
    dl.add_argument("--broker", default="kafka://127.0.0.1:9092", help="Kafka URL")
    dl.add_argument("--topic", default="cs-dead-letters", help="the dead-letter topic")
    dl.add_argument("--limit", type=positive_int, help="show at most N records; default: all")
    dl.add_argument("--out", type=output_file, help="show: also write the records as JSONL here")
    dl.set_defaults(func=cmd_dead_letters)


def cmd_dead_letters(args: argparse.Namespace) -> int:
    if args.action == "show":
        records = asyncio.run(read_dead_letters(args.broker, args.topic, args.limit))
        for r in records:
            src = r["source"]
            preview = r["value"][:80].replace("\n", " ")
            print(
                f"{r['reason']:<18} {src['topic']}[{src['partition']}]@{src['offset']}  {preview}"
            )
        print(f"{len(records)} dead letters in {args.topic}", file=sys.stderr)
        if args.out:
            Path(args.out).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
        return 0
    if not args.file:
        raise UsageError("resubmit needs the JSONL file written by `show --out`")
    entries = []
    for n, line in enumerate(Path(args.file).read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise UsageError(f"{args.file} line {n} is not JSON: {exc}") from None
        if not isinstance(entry, dict):
            raise UsageError(f"{args.file} line {n} is not a JSON object")
        entries.append(entry)
    sent, problems = asyncio.run(resubmit(args.broker, entries))
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"re-submitted {sent} of {len(entries)}", file=sys.stderr)
    return 0 if not problems else 1
