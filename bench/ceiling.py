"""The ceiling: a bare aiokafka consumer reading the topics to the end, no decoding."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer


async def ceiling_eps(
    bootstrap: str, topics: list[str], total: int, timeout: float = 600
) -> dict[str, float]:
    """Events/s of ``getmany(max_records=10000)`` from the first record to the ``total``-th
    (the records of the first batch arrive at time zero, so they are left out of the rate)."""
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            seen = 0
            started: float | None = None
            first = 0
            while seen < total:
                batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
                n = sum(len(v) for v in batch.values())
                if n and started is None:
                    started, first = time.monotonic(), n
                seen += n
            seconds = time.monotonic() - (started or time.monotonic())
    except TimeoutError:
        raise TimeoutError(f"ceiling: {seen}/{total} records after {timeout}s") from None
    finally:
        await consumer.stop()
    eps = (total - first) / seconds if seconds > 0 else float("inf")
    return {"eps": eps, "seconds": seconds}
