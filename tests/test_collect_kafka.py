"""The collector against the real broker: what it answers 2xx is on the topics, keyed by
the topic's key field; what it refuses is not; the broker stopped gives 503 and nothing
acknowledged is lost."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from stream_app.dev.broker import LocalKafka
from tests.collect_helpers import (
    CollectorProcess,
    account_event,
    make_topics,
    read_topics,
    running,
    settings_for,
    web_event,
)
from tests.helpers import samples
from tests.worker_proc import wait_for

pytestmark = [pytest.mark.integration]


async def post(
    session: aiohttp.ClientSession, url: str, body: Any, **kw: Any
) -> tuple[int, Any, Any]:
    data = body if isinstance(body, bytes | str) else orjson.dumps(body)
    async with session.post(url, data=data, **kw) as r:
        text = await r.read()
        return r.status, (orjson.loads(text) if text else None), r.headers


def values(read: dict[str, list[tuple[bytes | None, bytes]]]) -> list[dict[str, Any]]:
    return [orjson.loads(v) for msgs in read.values() for _k, v in msgs]


@pytest.mark.asyncio
async def test_accepted_events_are_on_their_topics_with_their_keys(
    kafka: LocalKafka, topic_prefix: str
) -> None:
    settings = settings_for(kafka.bootstrap, topic_prefix)
    await make_topics(kafka.bootstrap, settings)
    one = account_event("session_started", account="acme")
    many = [
        account_event("invoice_paid", account="globex", amount=1200, currency="EUR"),
        account_event("survey_answered", account="acme", survey="nps", score=9),
        account_event("ticket_opened", account="initech", ticket_id="t1", channel="chat"),
        web_event("page_viewed", visitor="vis-1", path="/pricing"),
        {
            **account_event("order_placed", account="acme"),
            "order_id": "o1",
            "amount": 5,
            "currency": "USD",
        },
    ]
    ndjson = b"\n".join(
        orjson.dumps(e)
        for e in (
            web_event("link_clicked", visitor="vis-2"),
            account_event("feature_used", feature="x"),
        )
    )
    async with running(settings) as url, aiohttp.ClientSession() as http:
        assert (await post(http, f"{url}/v1/events", one))[:2] == (
            202,
            {"accepted": 1, "rejected": []},
        )
        assert (await post(http, f"{url}/v1/events", many))[:2] == (
            202,
            {"accepted": 5, "rejected": []},
        )
        status, body, _ = await post(
            http, f"{url}/v1/events", ndjson, headers={"Content-Type": "application/x-ndjson"}
        )
        assert (status, body) == (202, {"accepted": 2, "rejected": []})
    read = await read_topics(kafka.bootstrap, settings.topic_names(), at_least=8)
    sent = {e["event_id"]: e for e in [one, *many, *(orjson.loads(x) for x in ndjson.split(b"\n"))]}
    got = {role: {orjson.loads(v)["event_id"]: k for k, v in msgs} for role, msgs in read.items()}
    assert {eid for ids in got.values() for eid in ids} == set(sent)
    assert set(got["web"]) == {e for e, v in sent.items() if "visitor_id" in v}
    for role, ids in got.items():
        for eid, key in ids.items():
            field = {"web": "visitor_id", "company": "source"}.get(role, "account_id")
            assert key == sent[eid][field].encode(), (role, eid)
    assert {e["type"] for e in values(read)} >= {"invoice_paid", "survey_answered", "order_placed"}
    assert [orjson.loads(v)["type"] for _k, v in read["billing"]].count("order_placed") == 1


@pytest.mark.asyncio
async def test_mixed_batch_gives_reasons_per_index_and_produces_only_the_valid(
    kafka: LocalKafka, topic_prefix: str
) -> None:
    settings = settings_for(kafka.bootstrap, topic_prefix, collect_origins="https://shop.example")
    await make_topics(kafka.bootstrap, settings)
    good = [account_event("session_started"), web_event("link_shown", visitor="v9")]
    batch: list[Any] = [
        good[0],
        {**account_event("session_started"), "ts": "2026-01-01 10:00"},  # naive, no offset
        {**account_event("session_started"), "type": "nonsense"},
        {k: v for k, v in account_event("session_started").items() if k != "user_id"},
        {**account_event("survey_answered"), "survey": "nps", "score": 11},
        good[1],
        [1, 2],
        {**web_event("page_left"), "max_scroll_pct": 101},
    ]
    web_batch = [web_event("page_viewed", visitor="v3"), account_event("session_started")]
    async with running(settings) as url, aiohttp.ClientSession() as http:
        status, body, _ = await post(http, f"{url}/v1/events", batch)
        assert status == 202
        assert body["accepted"] == 2
        assert [(r["index"], r["reason"]) for r in body["rejected"]] == [
            (1, "invalid_timestamp"),
            (2, "unknown_type"),
            (3, "missing_field"),
            (4, "score_out_of_range"),
            (6, "not_object"),
            (7, "invalid_field"),
        ]
        # every event rejected: 400, nothing produced
        status, body, _ = await post(http, f"{url}/v1/events", batch[1:3])
        assert (status, body["accepted"], len(body["rejected"])) == (400, 0, 2)
        # the browser endpoint takes web types only
        status, body, headers = await post(
            http,
            f"{url}/v1/web",
            orjson.dumps(web_batch).decode(),
            headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://shop.example"},
        )
        assert (status, body["accepted"]) == (202, 1)
        assert [(r["index"], r["reason"]) for r in body["rejected"]] == [(1, "wrong_topic")]
        assert headers["Access-Control-Allow-Origin"] == "https://shop.example"
        assert "Set-Cookie" not in headers
        async with http.get(f"{url}/metrics") as r:
            m = samples(await r.read())
    assert m['cs_collect_events_total{outcome="accepted"}'] == 3
    assert m['cs_collect_events_total{outcome="rejected"}'] == 6 + 2 + 1
    assert m['cs_collect_rejected_total{reason="wrong_topic"}'] == 1
    read = await read_topics(kafka.bootstrap, settings.topic_names(), at_least=3)
    assert sorted(e["event_id"] for e in values(read)) == sorted(
        e["event_id"] for e in [*good, web_batch[0]]
    )


@pytest.mark.asyncio
async def test_refusals_produce_nothing(kafka: LocalKafka, topic_prefix: str) -> None:
    settings = settings_for(
        kafka.bootstrap,
        topic_prefix,
        collect_origins="https://shop.example",
        collect_max_body_bytes=4096,
        collect_max_events=10,
        collect_rate=0.5,
        collect_burst=6,
        collect_token="s3cret-token",
    )
    await make_topics(kafka.bootstrap, settings)
    auth = {"Authorization": "Bearer s3cret-token"}
    origin = {"Origin": "https://shop.example", "Content-Type": "text/plain"}
    async with running(settings) as url, aiohttp.ClientSession() as http:
        ev = f"{url}/v1/events"
        big = [web_event(path="/" + "x" * 500) for _ in range(9)]  # > 4096 bytes
        assert (await post(http, ev, big, headers=auth))[0] == 413
        many = [web_event() for _ in range(11)]
        status, body, _ = await post(http, ev, many, headers=auth)
        assert (status, body["error"]) == (413, "too_many_events")
        assert (await post(http, ev, b"{not json", headers=auth))[:2][0] == 400
        assert (await post(http, ev, b"   ", headers=auth))[0] == 400
        status, _, headers = await post(http, ev, web_event())
        assert (status, headers["WWW-Authenticate"]) == (401, "Bearer")
        wrong = {"Authorization": "Bearer s3cret-tokeN"}
        assert (await post(http, ev, web_event(), headers=wrong))[0] == 401
        # CORS: an origin not on the list is refused, preflight included
        evil = {"Origin": "https://evil.example", "Content-Type": "text/plain"}
        assert (await post(http, f"{url}/v1/web", web_event(), headers=evil))[0] == 403
        # and a page of another site cannot post to /v1/events from a visitor's browser
        assert (await post(http, ev, web_event(), headers={**auth, **evil}))[0] == 403
        async with http.options(f"{url}/v1/web", headers=evil) as r:
            assert r.status == 403
        async with http.options(f"{url}/v1/web", headers=origin) as r:
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == "https://shop.example"
            assert "Access-Control-Allow-Credentials" not in r.headers
        # token bucket of 6: 4 + 2 pass, the next is refused with Retry-After
        first = [web_event() for _ in range(4)]
        assert (await post(http, f"{url}/v1/web", first, headers=origin))[0] == 202
        second = [web_event() for _ in range(2)]
        assert (await post(http, f"{url}/v1/web", second, headers=origin))[0] == 202
        status, body, headers = await post(http, f"{url}/v1/web", web_event(), headers=origin)
        assert (status, body["error"]) == (429, "rate_limited")
        assert int(headers["Retry-After"]) >= 1
        accepted = [web_event(), account_event()]
        assert (await post(http, ev, accepted, headers=auth))[:2] == (
            202,
            {"accepted": 2, "rejected": []},
        )
        async with http.get(f"{url}/metrics") as r:
            m = samples(await r.read())
    assert m['cs_collect_events_total{outcome="rate_limited"}'] == 1
    assert m['cs_collect_requests_total{code="413",endpoint="events"}'] == 2
    assert m['cs_collect_requests_total{code="429",endpoint="web"}'] == 1
    read = await read_topics(kafka.bootstrap, settings.topic_names(), at_least=8)
    assert Counter(e["event_id"] for e in values(read)) == Counter(
        e["event_id"] for e in [*first, *second, *accepted]
    )


@pytest.mark.asyncio
async def test_an_event_over_the_topics_size_limit_is_413_not_a_retry_loop(
    kafka: LocalKafka, topic_prefix: str
) -> None:
    from stream_app.dev.broker import create_topics

    settings = settings_for(kafka.bootstrap, topic_prefix)
    await create_topics(kafka.bootstrap, [settings.topic_web], 1, {"max.message.bytes": "2000"})
    small, big = web_event(path="/a"), web_event(path="/" + "b" * 500, referrer="r" * 2000)
    async with running(settings) as url, aiohttp.ClientSession() as http:
        status, body, _ = await post(http, f"{url}/v1/events", big)
        assert (status, body["error"]) == (413, "too_large")
        assert (await post(http, f"{url}/v1/events", small))[:2] == (
            202,
            {"accepted": 1, "rejected": []},
        )
        async with http.get(f"{url}/metrics") as r:
            m = samples(await r.read())
    assert m['cs_collect_events_total{outcome="refused"}'] == 1
    read = await read_topics(kafka.bootstrap, {"web": settings.topic_web}, at_least=1)
    assert [orjson.loads(v)["event_id"] for _k, v in read["web"]] == [small["event_id"]]


def test_broker_stopped_gives_503_and_nothing_acknowledged_is_lost(
    kafka: LocalKafka, topic_prefix: str
) -> None:
    if not isinstance(kafka, LocalKafka):
        pytest.skip("needs the local broker it can stop")

    async def scenario() -> tuple[set[str], set[str]]:
        settings = settings_for(kafka.bootstrap, topic_prefix, collect_produce_timeout_s=3.0)
        await make_topics(kafka.bootstrap, settings)
        acked: set[str] = set()
        async with running(settings) as url, aiohttp.ClientSession() as http:
            before = [account_event(account=f"a{i}") for i in range(20)]
            status, body, _ = await post(http, f"{url}/v1/events", before)
            assert (status, body["accepted"]) == (202, 20)
            acked |= {e["event_id"] for e in before}
            await asyncio.to_thread(kafka.stop, keep_data=True)
            during = [account_event(account=f"b{i}") for i in range(5)]
            status, body, headers = await post(http, f"{url}/v1/events", during)
            assert status == 503, body
            assert int(headers["Retry-After"]) >= 1
            async with http.get(f"{url}/healthz") as r:
                healthz = r.status
            await asyncio.to_thread(kafka.restart)
            # the client retries after Retry-After until it is acknowledged
            deadline = asyncio.get_running_loop().time() + 60
            while True:
                status, body, _ = await post(http, f"{url}/v1/events", during)
                if status == 202 or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(1)  # the client's Retry-After back-off
            assert (status, body["accepted"]) == (202, 5)
            acked |= {e["event_id"] for e in during}
            async with http.get(f"{url}/metrics") as r:
                m = samples(await r.read())
            assert m['cs_collect_events_total{outcome="unavailable"}'] >= 5
            assert healthz in (200, 503)
        read = await read_topics(kafka.bootstrap, settings.topic_names(), at_least=len(acked))
        return acked, {e["event_id"] for e in values(read)}

    acked, stored = asyncio.run(scenario())
    assert acked <= stored  # every acknowledged event survived the outage
    assert stored <= acked  # and nothing else was written


def test_graceful_shutdown_answers_and_flushes_the_requests_in_flight(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    import requests

    proc = CollectorProcess(kafka.bootstrap, topic_prefix, tmp_path, CS_COLLECT_LINGER_MS="3000")
    settings = settings_for(kafka.bootstrap, topic_prefix)
    asyncio.run(make_topics(kafka.bootstrap, settings))
    proc.start()
    try:
        wait_for(lambda: requests.get(f"{proc.url}/healthz", timeout=2).ok, 60, "collector")
        events = [account_event(account=f"c{i}") for i in range(30)]
        answer: dict[str, Any] = {}

        def send() -> None:
            r = requests.post(f"{proc.url}/v1/events", data=orjson.dumps(events), timeout=30)
            answer["status"], answer["body"] = r.status_code, r.json()

        sender = threading.Thread(target=send)
        sender.start()
        in_flight = "cs_collect_requests_in_flight"
        wait_for(
            # >= 2: the POST and the scrape itself
            lambda: samples(requests.get(f"{proc.url}/metrics", timeout=2).content)[in_flight] >= 2,
            20,
            "the request waiting for its acknowledgement",
        )
        code = proc.stop()
        sender.join(30)
    finally:
        proc.stop()
    assert code == 0, proc.log_tail()
    assert answer == {"status": 202, "body": {"accepted": 30, "rejected": []}}
    read = asyncio.run(read_topics(kafka.bootstrap, settings.topic_names(), at_least=30))
    assert sorted(e["event_id"] for e in values(read)) == sorted(e["event_id"] for e in events)
