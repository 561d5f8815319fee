"""The collector's pure parts: splitting bodies, validating with the contract, the token
bucket and the OpenAPI document (no Kafka, no HTTP)."""

from __future__ import annotations

import math
import re

import orjson
import pytest

from stream_app.collect.intake import BodyError, Validator, split_body
from stream_app.collect.openapi import openapi
from stream_app.collect.ratelimit import TokenBuckets
from stream_app.collect.settings import CollectSettings
from stream_app.contract import REJECTION_REASONS

WEB = {"event_id": "e1", "type": "link_clicked", "ts": "2026-01-01T00:00:00+01:00",
       "visitor_id": "v1", "link": "cta"}  # fmt: skip
ACCOUNT = {"event_id": "e2", "type": "session_started", "ts": "2026-01-01T00:00:00Z",
           "account_id": "acme", "user_id": "u1"}  # fmt: skip
SPEND = {"event_id": "e3", "type": "spend_recorded", "ts": "2026-01-01T00:00:00Z",
         "source": "ads", "category": "marketing", "amount": 5, "currency": "EUR"}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "count"),
    [
        (orjson.dumps(WEB), 1),
        (orjson.dumps([WEB, ACCOUNT]), 2),
        (orjson.dumps(WEB) + b"\n" + orjson.dumps(ACCOUNT) + b"\n", 2),
        (b"\n" + orjson.dumps(WEB) + b"\r\n\n" + orjson.dumps(ACCOUNT), 2),
        (b"  " + orjson.dumps(WEB) + b"  ", 1),
        (b"5", 1),
        (b'"text"', 1),
    ],
)
def test_bodies_split_into_events(body: bytes, count: int) -> None:
    assert len(split_body(body, 10)) == count


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"  \n ", "empty"),
        (b"[]", "empty"),
        (b"{not json", "invalid_json"),
        (b"hello\nworld", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (orjson.dumps([WEB] * 11), "too_many_events"),
        (b"\n".join([orjson.dumps(WEB)] * 11), "too_many_events"),
    ],
)
def test_unusable_bodies_are_refused_whole(body: bytes, reason: str) -> None:
    with pytest.raises(BodyError) as err:
        split_body(body, 10)
    assert err.value.reason == reason


def test_ndjson_line_that_is_not_json_is_rejected_by_index() -> None:
    body = orjson.dumps(WEB) + b"\n{broken\n" + orjson.dumps(ACCOUNT)
    intake = Validator(1_048_576).check(split_body(body, 10))
    assert [a.index for a in intake.accepted] == [0, 2]
    assert [(r.index, r.reason) for r in intake.rejected] == [(1, "invalid_json")]


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({**ACCOUNT, "type": "nope"}, "unknown_type"),
        ({k: v for k, v in ACCOUNT.items() if k != "account_id"}, "missing_field"),
        ({**ACCOUNT, "ts": "2026-01-01T00:00:00"}, "invalid_timestamp"),
        ({**ACCOUNT, "user_id": ""}, "invalid_field"),
        ({**WEB, "link": "x" * 65}, "invalid_field"),
        (
            {**ACCOUNT, "type": "survey_answered", "survey": "nps", "score": 11},
            "score_out_of_range",
        ),
        ({**ACCOUNT, "user_id": "u" * 600}, "too_large"),
    ],
)
def test_rejections_use_the_workers_reason_words(event: dict[str, object], reason: str) -> None:
    intake = Validator(600).check(split_body(orjson.dumps(event), 10))
    assert [(r.index, r.reason) for r in intake.rejected] == [(0, reason)]
    assert reason in REJECTION_REASONS


@pytest.mark.parametrize(
    ("event", "role", "key"),
    [(WEB, "web", b"v1"), (ACCOUNT, "product", b"acme"), (SPEND, "company", b"ads")],
)
def test_accepted_events_carry_their_topic_and_key(
    event: dict[str, object], role: str, key: bytes
) -> None:
    [accepted] = Validator(1_048_576).check(split_body(orjson.dumps(event), 10)).accepted
    assert (accepted.role, accepted.key, orjson.loads(accepted.value)) == (role, key, event)


def test_the_web_endpoint_takes_web_types_only() -> None:
    intake = Validator(1_048_576, roles=("web",)).check(
        split_body(orjson.dumps([WEB, ACCOUNT, SPEND]), 10)
    )
    assert [a.index for a in intake.accepted] == [0]
    assert [(r.index, r.reason) for r in intake.rejected] == [
        (1, "wrong_topic"),
        (2, "wrong_topic"),
    ]


def test_token_bucket() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=4, max_clients=2, clock=lambda: now[0])
    assert buckets.take("a", 3) == 0
    assert buckets.take("a", 2) == pytest.approx(0.5)  # 1 left, 1 more in 0.5 s
    assert buckets.take("b", 4) == 0  # per client
    now[0] = 0.5
    assert buckets.take("a", 2) == 0
    assert math.isinf(buckets.take("a", 5))  # more than the burst: never
    now[0] = 100.0
    assert buckets.take("a", 4) == 0  # refilled up to the burst, not beyond
    assert buckets.take("a", 1) == pytest.approx(0.5)
    buckets.take("c", 1)
    assert len(buckets._buckets) == 2  # bounded: the least recently seen is forgotten


def test_settings_parse_origins_and_keep_the_token_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CS_COLLECT_ORIGINS", "https://a.example/, https://b.example")
    monkeypatch.setenv("CS_COLLECT_TOKEN", "hunter2")
    s = CollectSettings()
    assert s.collect_origins == ["https://a.example", "https://b.example"]
    assert s.collect_host == "127.0.0.1"
    assert s.collect_max_body_bytes == 1_048_576
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())


def test_openapi_describes_the_limits_and_the_token() -> None:
    plain = openapi(CollectSettings(collect_max_events=7))
    assert plain["openapi"].startswith("3.1")
    events = plain["paths"]["/v1/events"]["post"]
    assert "security" not in events
    assert set(events["responses"]) == {"202", "400", "403", "413", "503"}
    many = events["requestBody"]["content"]["application/json"]["schema"]["oneOf"][1]
    assert many["maxItems"] == 7
    assert "Retry-After" in events["responses"]["503"]["headers"]
    text = orjson.dumps(plain).decode()
    assert "$defs" not in text  # every reference resolves inside components
    for ref in set(re.findall(r'"#/components/schemas/([^"]+)"', text)):
        assert ref in plain["components"]["schemas"], ref
    secured = openapi(CollectSettings(collect_token="t0ken"))
    assert secured["paths"]["/v1/events"]["post"]["security"] == [{"bearer": []}]
    assert "401" in secured["paths"]["/v1/events"]["post"]["responses"]
    assert "t0ken" not in orjson.dumps(secured).decode()


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--port", "99999"], {}, "collect_port"),
        ([], {"CS_COLLECT_RATE": "fast"}, "collect_rate"),
        ([], {"CS_COLLECT_MAX_BODY_BYTES": "10"}, "collect_max_body_bytes"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    args: list[str], env: dict[str, str], says: str
) -> None:
    import os
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "stream_app.cli", "collect", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and says in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.asyncio
async def test_without_kafka_valid_events_get_503_and_invalid_ones_their_reasons() -> None:
    import aiohttp

    from tests.collect_helpers import running, settings_for
    from tests.worker_proc import free_port

    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    settings = settings_for(dead, "no-kafka", collect_produce_timeout_s=2.0)
    async with running(settings) as url, aiohttp.ClientSession() as http:
        for _ in range(2):  # the second is refused at once (no new connection attempt)
            async with http.post(f"{url}/v1/events", data=orjson.dumps([WEB, ACCOUNT])) as r:
                assert r.status == 503
                assert r.headers["Retry-After"] == "5"
                assert (await r.json())["error"] == "unavailable"
        async with http.post(f"{url}/v1/events", data=orjson.dumps([{"x": 1}])) as r:
            assert r.status == 400  # nothing valid: no need for Kafka
        async with http.get(f"{url}/healthz") as r:
            assert (r.status, await r.json()) == (503, {"kafka": "down"})
        async with http.get(f"{url}/metrics") as r:
            text = (await r.read()).decode()
    assert 'cs_collect_events_total{outcome="unavailable"} 4.0' in text
    assert 'cs_collect_events_total{outcome="accepted"} 0.0' in text
