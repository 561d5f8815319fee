"""Dead letters: the original bytes, with the reason and the source as Kafka headers."""

from __future__ import annotations

from stream_app.contract import Rejection

HEADER_REASON = "cs-reason"
HEADER_DETAIL = "cs-detail"
HEADER_TOPIC = "cs-source-topic"
HEADER_PARTITION = "cs-source-partition"
HEADER_OFFSET = "cs-source-offset"


def dead_letter_headers(
    rejection: Rejection, topic: str, partition: int, offset: int
) -> list[tuple[str, bytes]]:
    """Headers of the dead-letter record of a rejected message (value = original bytes)."""
    return [
        (HEADER_REASON, rejection.reason.encode()),
        (HEADER_DETAIL, rejection.detail[:1000].encode("utf-8", "replace")),
        (HEADER_TOPIC, topic.encode()),
        (HEADER_PARTITION, str(partition).encode()),
        (HEADER_OFFSET, str(offset).encode()),
    ]
