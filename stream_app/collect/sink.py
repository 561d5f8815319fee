"""The collector's Kafka producer: ``acks=all``; a request is answered 2xx only once the
broker acknowledged every event it accepted. When the broker cannot be reached (at start,
or later) :meth:`Sink.send` raises :class:`Unavailable` and the request gets a 503."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError

from stream_app.collect.intake import Accepted
from stream_app.collect.settings import CollectSettings
from stream_app.produce import bootstrap_of


class Unavailable(RuntimeError):
    """The broker did not acknowledge in time (or cannot be reached)."""


class Refused(RuntimeError):
    """The broker refused an event for good (its size is over the topic's limit): a retry
    would fail the same way, so the request is answered 413, not 503."""


def kafka_security(s: CollectSettings) -> dict[str, Any]:
    """aiokafka's security arguments (the password stays a SecretStr until here)."""
    out: dict[str, Any] = {"security_protocol": s.security_protocol}
    if s.security_protocol in ("SSL", "SASL_SSL"):
        out["ssl_context"] = ssl.create_default_context(cafile=s.ssl_cafile)
    if s.security_protocol.startswith("SASL"):
        if not (s.sasl_mechanism and s.sasl_username and s.sasl_password):
            raise ValueError("SASL needs CS_SASL_MECHANISM, CS_SASL_USERNAME, CS_SASL_PASSWORD")
        out["sasl_mechanism"] = s.sasl_mechanism
        out["sasl_plain_username"] = s.sasl_username
        out["sasl_plain_password"] = s.sasl_password.get_secret_value()
    return out


class Sink:
    def __init__(self, settings: CollectSettings) -> None:
        self.settings = settings
        self.topics: Mapping[str, str] = settings.topic_names()
        self.timeout = settings.collect_produce_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()
        #: after a failed connection, requests get 503 at once until this monotonic time
        self._retry_at = 0.0

    @property
    def connected(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Connect (idempotent); raises :class:`Unavailable` when the broker is down."""
        if self._producer is None and time.monotonic() < self._retry_at:
            raise Unavailable("Kafka unreachable (retrying shortly)")
        async with self._lock:
            if self._producer is not None:
                return
            if time.monotonic() < self._retry_at:
                raise Unavailable("Kafka unreachable (retrying shortly)")
            s = self.settings
            producer = AIOKafkaProducer(
                bootstrap_servers=bootstrap_of(s.broker),
                acks="all",
                enable_idempotence=True,
                linger_ms=s.collect_linger_ms,
                request_timeout_ms=int(self.timeout * 1000),
                max_request_size=max(s.collect_max_body_bytes, s.max_message_bytes) + 65536,
                **kafka_security(s),
            )
            try:
                async with asyncio.timeout(self.timeout):
                    await producer.start()
            except Exception as exc:
                await producer.stop()
                self._retry_at = time.monotonic() + s.collect_retry_after_s
                raise Unavailable(f"Kafka unreachable: {type(exc).__name__}") from exc
            self._producer = producer

    async def send(self, events: Sequence[Accepted]) -> None:
        """Produce ``events``; return once the broker acknowledged all of them."""
        await self.start()
        producer = self._producer
        assert producer is not None
        try:
            async with asyncio.timeout(self.timeout):
                futures = [
                    await producer.send(self.topics[e.role], e.value, key=e.key) for e in events
                ]
                await asyncio.gather(*futures)
        except (MessageSizeTooLargeError, RecordTooLargeError) as exc:
            raise Refused(f"the broker refused an event: {type(exc).__name__}") from exc
        except Exception as exc:  # timeouts, connection and other produce errors
            raise Unavailable(f"not acknowledged: {type(exc).__name__}") from exc

    async def stop(self) -> None:
        """Flush what was handed to the producer, then disconnect."""
        async with self._lock:
            if self._producer is not None:
                await self._producer.stop()
                self._producer = None
