"""Partition counts: every source topic and the state changelog must have the same.

A key's contract partition is ``murmur2(key) % partitions``; with another count on one
topic, an account's billing events and its product events land on partitions owned by
different workers, and its state splits (Kafka Streams refuses such a topology as "not
co-partitioned"; ksqlDB requires equal counts). The state changelog is written with the
source partition of each key, so it must have the count too. The worker compares the
counts at every assignment (the first one included) and stops with
:func:`mismatch_message` when they differ.
"""

from __future__ import annotations

from collections.abc import Mapping

DOCS = "docs/producers.md#partition-counts"


def mismatch_message(counts: Mapping[str, int | None], configured: int) -> str | None:
    """One line naming each topic with its partition count and what to do, when the
    known counts differ from each other or from ``configured`` (``CS_PARTITIONS``); None
    when they agree. A topic that does not exist yet (None or 0: Faust subscribes to it
    and ignores it until it is created) is left out: once created, the next assignment
    checks it."""
    known = {topic: n for topic, n in counts.items() if n}
    if all(n == configured for n in known.values()):
        return None
    listed = ", ".join(f"{topic} has {n}" for topic, n in known.items())
    target = max(known.values())
    return (
        f"partition counts differ ({listed}; CS_PARTITIONS={configured}): every source "
        f"topic and the state changelog must have the same count, or accounts split "
        f"across workers. Give every topic {target} partitions (kafka-topics.sh --alter "
        f"--partitions {target} on the smaller ones), set CS_PARTITIONS={target} and start "
        f"with a new CS_APP_ID so that the state is rebuilt from the topics; see {DOCS}"
    )
