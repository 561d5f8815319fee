"""Publishing the KPI groups' outbox: records other systems consume.

A group queues ``(topic role, key, value)`` records (today only role ``"health"``: the
account-health band changes, sent to ``CS_TOPIC_ACCOUNT_HEALTH``); the worker drains the
cores after each batch and :func:`publish_outbox` sends them (key = the record's key,
value = JSON) and waits for the broker's acknowledgement, before the batch's changelog
records are sent: a crash can repeat an outbox record but not lose it (at least once).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from faust.types import ProducerT

log = logging.getLogger(__name__)

OutboxRecord = tuple[str, str, dict[str, Any]]  # (topic role, key, value)


async def publish_outbox(
    producer: ProducerT, topics: Mapping[str, str], records: Iterable[OutboxRecord]
) -> int:
    """Send ``records`` to the topic of their role (``topics``: role -> topic name) and
    wait for every acknowledgement; returns how many were sent. A record of a role with
    no topic is dropped (logged)."""
    pending = []
    dropped: Counter[str] = Counter()
    for role, key, value in records:
        name = topics.get(role)
        if name is None:
            dropped[role] += 1
            continue
        pending.append(
            await producer.send(name, key.encode(), orjson.dumps(value), None, None, None)
        )
    for role, n in dropped.items():
        log.warning("no topic for outbox records of role %r; %d dropped", role, n)
    await asyncio.gather(*pending)
    return len(pending)
