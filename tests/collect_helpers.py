"""The collector in tests: in-process (aiohttp on a free loopback port) or as a real
``stream-app collect`` process; and reading back what it produced."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition

from stream_app.collect.server import Collector
from stream_app.collect.settings import CollectSettings
from stream_app.contract import TOPICS
from stream_app.dev.broker import create_topics
from tests.worker_proc import free_port


def topic_env(prefix: str) -> dict[str, str]:
    """``CS_TOPIC_<ROLE>`` of every declared topic, named after the test."""
    return {f"CS_TOPIC_{t.role.upper()}": f"{prefix}-{t.default_name}" for t in TOPICS}


def settings_for(bootstrap: str, prefix: str, **kw: Any) -> CollectSettings:
    topics = {f"topic_{t.role}": f"{prefix}-{t.default_name}" for t in TOPICS}
    values: dict[str, Any] = {
        "broker": f"kafka://{bootstrap}",
        "collect_port": free_port(),
        "collect_produce_timeout_s": 5.0,
        **topics,
        **kw,
    }
    return CollectSettings(**values)


async def make_topics(bootstrap: str, settings: CollectSettings, partitions: int = 3) -> None:
    await create_topics(bootstrap, list(settings.topic_names().values()), partitions)


@contextlib.asynccontextmanager
async def running(settings: CollectSettings) -> AsyncIterator[str]:
    """An in-process collector; yields its base URL."""
    runner = web.AppRunner(Collector(settings).app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.collect_host, settings.collect_port)
    await site.start()
    try:
        yield f"http://{settings.collect_host}:{settings.collect_port}"
    finally:
        await runner.cleanup()


async def read_topics(
    bootstrap: str, names: Mapping[str, str], at_least: int = 0, timeout: float = 20.0
) -> dict[str, list[tuple[bytes | None, bytes]]]:
    """Every (key, value) on the topics (role -> name), read from the beginning up to the
    end offsets of the moment it is called (and on, until ``at_least`` were read)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: dict[str, list[tuple[bytes | None, bytes]]] = {role: [] for role in names}
    try:
        roles = {name: role for role, name in names.items()}
        parts = [
            TopicPartition(name, p)
            for name in names.values()
            for p in sorted(consumer.partitions_for_topic(name) or await _parts(consumer, name))
        ]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        async with asyncio.timeout(timeout):
            while True:
                positions = {tp: await consumer.position(tp) for tp in parts}
                count = sum(len(v) for v in out.values())
                if all(positions[tp] >= ends[tp] for tp in parts) and count >= at_least:
                    return out
                batch = await consumer.getmany(timeout_ms=200)
                for tp, records in batch.items():
                    for r in records:
                        out[roles[tp.topic]].append((r.key, r.value))
    finally:
        await consumer.stop()


async def _parts(consumer: AIOKafkaConsumer, name: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(name) or set()


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def web_event(type_: str = "page_viewed", visitor: str = "v1", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"event_id": uuid.uuid4().hex, "type": type_, "ts": now()}
    body["visitor_id"] = visitor
    defaults: dict[str, dict[str, Any]] = {
        "page_viewed": {"path": "/"},
        "page_left": {"path": "/", "engaged_ms": 1200, "max_scroll_pct": 50},
        "link_shown": {"link": "cta"},
        "link_clicked": {"link": "cta"},
        "visit_survey_answered": {"survey": "task_completion", "answer": "yes"},
    }
    body.update(defaults.get(type_, {}))
    body.update(fields)
    return body


def account_event(type_: str = "session_started", account: str = "acme", **fields: Any) -> dict:
    body: dict[str, Any] = {"event_id": uuid.uuid4().hex, "type": type_, "ts": now()}
    body["account_id"] = account
    if type_ in ("session_started", "user_signed_up", "feature_used", "survey_answered"):
        body["user_id"] = "u1"
    body.update(fields)
    return body


class CollectorProcess:
    """``stream-app collect`` as a real process with its own port."""

    def __init__(self, bootstrap: str, prefix: str, tmp: Path, **env: str) -> None:
        self.port = free_port()
        self.log_path = tmp / f"collector-{self.port}.log"
        self.env = dict(os.environ)
        self.env.update(topic_env(prefix))
        self.env.update(
            {
                "CS_BROKER": f"kafka://{bootstrap}",
                "CS_COLLECT_PORT": str(self.port),
                "CS_COLLECT_PRODUCE_TIMEOUT_S": "5",
            }
        )
        self.env.update(env)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> CollectorProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stream_app.cli", "collect"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def stop(self, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode
