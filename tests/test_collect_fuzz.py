"""Property-based fuzzing of a live collector from its own /openapi.json (schemathesis):
every answer conforms to the document (status code, content type, headers, body schema),
no 5xx but the documented 503 (with Retry-After), and what Kafka holds afterwards is
exactly the events of the 2xx answers: nothing is produced from a request answered 4xx."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from stream_app.collect.intake import split_body
from stream_app.dev.broker import LocalKafka
from tests.collect_helpers import CollectorProcess, make_topics, read_topics, settings_for
from tests.helpers import samples
from tests.worker_proc import wait_for

pytestmark = [pytest.mark.integration]

CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 60  # per operation and generation mode: bounded in count


def test_fuzzing_the_live_collector_from_its_openapi(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    env = {
        "CS_COLLECT_MAX_EVENTS": "20",
        "CS_COLLECT_RATE": "100000",
        "CS_COLLECT_BURST": "100000",
        "CS_COLLECT_ORIGINS": "https://shop.example",
    }
    proc = CollectorProcess(kafka.bootstrap, topic_prefix, tmp_path, **env)
    topics = settings_for(kafka.bootstrap, topic_prefix).topic_names()
    asyncio.run(make_topics(kafka.bootstrap, settings_for(kafka.bootstrap, topic_prefix)))
    proc.start()
    expected: Counter[bytes] = Counter()
    statuses: Counter[tuple[str, int]] = Counter()
    try:
        wait_for(lambda: requests.get(f"{proc.url}/healthz", timeout=2).ok, 60, "collector")
        schema = schemathesis.openapi.from_url(f"{proc.url}/openapi.json")
        session = requests.Session()
        for result in schema.get_all_operations():
            operation = result.ok()
            modes = [schemathesis.GenerationMode.POSITIVE]
            if operation.method.lower() == "post":  # only bodies can be made invalid
                modes.append(schemathesis.GenerationMode.NEGATIVE)
            for mode in modes:
                strategy = operation.as_strategy(generation_mode=mode)

                @settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=strategy)
                def fuzz(case: Any) -> None:
                    response = case.call(base_url=proc.url, session=session, timeout=30)
                    code = response.status_code
                    statuses[(case.operation.label, code)] += 1
                    assert code < 500 or (code == 503 and "retry-after" in response.headers), (
                        f"{case.operation.label}: {code} {response.content[:300]!r}"
                    )
                    case.validate_response(response, checks=CHECKS)
                    if code == 202:
                        expected.update(accepted_values(response))

                fuzz()
        m = samples(requests.get(f"{proc.url}/metrics", timeout=5).content)
    finally:
        proc.stop()
    produced = asyncio.run(read_topics(kafka.bootstrap, topics, at_least=sum(expected.values())))
    got = Counter(v for msgs in produced.values() for _k, v in msgs)
    assert got == expected  # nothing from a 4xx, everything of a 202
    assert m['cs_collect_events_total{outcome="accepted"}'] == sum(expected.values())
    for op in ("POST /v1/events", "POST /v1/web"):  # both sides were exercised
        assert statuses[(op, 202)] and statuses[(op, 400)], statuses


def accepted_values(response: Any) -> list[bytes]:
    """The events a 202 answer accepted: those of the request not listed as rejected."""
    body = response.request.body
    raw = body.encode() if isinstance(body, str) else bytes(body or b"")
    answer = orjson.loads(response.content)
    refused = {r["index"] for r in answer["rejected"]}
    items = split_body(raw, 10_000)
    values = [item for i, item in enumerate(items) if i not in refused]
    assert all(isinstance(v, bytes) for v in values)
    assert len(values) == answer["accepted"]
    return [v for v in values if isinstance(v, bytes)]
