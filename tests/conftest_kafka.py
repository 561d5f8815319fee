"""Kafka fixtures, loaded as the pytest plugin ``tests.conftest_kafka``.

Enable them from ``tests/conftest.py`` with ``pytest_plugins = ["tests.conftest_kafka"]``
(or ``from tests.conftest_kafka import *``), or on the command line with
``-p tests.conftest_kafka``.

``kafka`` is one real broker per test session (see :class:`stream_app.dev.broker.LocalKafka`);
set ``CS_TEST_BOOTSTRAP=host:port`` to run against an already running broker instead.
Tests share that broker, so each one should name its topics and consumer groups after
``topic_prefix``.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from stream_app.dev.broker import LocalKafka

__all__ = ["ExternalKafka", "kafka", "topic_prefix"]


@dataclass(frozen=True)
class ExternalKafka:
    """A broker this test session did not start; only its address is known."""

    bootstrap: str


@pytest.fixture(scope="session")
def kafka() -> Iterator[LocalKafka | ExternalKafka]:
    """The session's broker; use ``kafka.bootstrap`` to connect."""
    external = os.environ.get("CS_TEST_BOOTSTRAP", "").strip()
    if external:
        yield ExternalKafka(external)
        return
    with LocalKafka() as broker:
        yield broker


@pytest.fixture
def topic_prefix(request: pytest.FixtureRequest) -> str:
    """A unique, topic-name-safe prefix per test, e.g. ``test_roundtrip-1a2b3c4d``."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")[:100] or "test"
    return f"{name}-{uuid.uuid4().hex[:8]}"
