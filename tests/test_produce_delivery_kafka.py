"""``produce()`` reports the events the broker refused: before, a failed batch was only
an exception on futures nobody read, and the count claimed every event delivered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stream_app.contract import TOPICS
from stream_app.dev.broker import create_topics
from stream_app.produce import Deliveries, DeliveryFailed, produce


@pytest.mark.integration
@pytest.mark.asyncio
async def test_a_record_the_topic_refuses_fails_the_produce(kafka: Any, topic_prefix: str) -> None:
    topics = {t.role: f"{topic_prefix}-{t.default_name}" for t in TOPICS}
    await create_topics(kafka.bootstrap, [topics["billing"]], 2)
    # the product topic takes records of at most 1,000 bytes (a broker-side refusal:
    # the client's own limit is 1 MB, so send() itself accepts the record)
    await create_topics(kafka.bootstrap, [topics["product"]], 2, {"max.message.bytes": "1000"})
    small = [
        {"type": "subscription_started", "account_id": f"a{i}", "event_id": f"b{i}"}
        for i in range(2)
    ]
    big = {"type": "not_in_the_contract", "account_id": "a9", "padding": "x" * 5000}
    with pytest.raises(DeliveryFailed) as caught:
        await produce(f"kafka://{kafka.bootstrap}", topics, [*small, big])
    assert (caught.value.failed, caught.value.sent) == (1, 3)
    assert "1 of 3 events were not delivered" in str(caught.value)
    # and what the topics accept is counted as delivered
    assert await produce(f"kafka://{kafka.bootstrap}", topics, small) == 2


def _future(outcome: str) -> asyncio.Future[Any]:
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    if outcome == "ok":
        future.set_result(None)
    elif outcome == "error":
        future.set_exception(RuntimeError("refused"))
    elif outcome == "cancelled":
        future.cancel()
    return future


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("outcomes", "left_after_settle", "failed"),
    [
        (["ok", "ok"], 0, 0),
        (["ok", "error", "ok"], 0, 1),
        (["error", "cancelled"], 0, 2),
        # settle stops at the oldest unanswered one (answered "ok" later); wait counts the rest
        (["ok", "pending", "error"], 2, 1),
    ],
)
async def test_deliveries_count_the_refused_ones(
    outcomes: list[str], left_after_settle: int, failed: int
) -> None:
    deliveries = Deliveries()
    futures = [_future(o) for o in outcomes]
    for future in futures:
        deliveries.add(future)
    deliveries.settle()
    assert len(deliveries.pending) == left_after_settle
    for future in futures:
        if not future.done():
            future.set_result(None)
    await deliveries.wait()
    assert not deliveries.pending
    assert deliveries.failed == failed
    assert (deliveries.first is None) == (failed == 0)


def test_the_generate_command_reports_a_failed_delivery_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from stream_app import produce as produce_module
    from stream_app.cli import main

    async def refused(*args: Any, **kwargs: Any) -> int:
        raise DeliveryFailed(3, 10, RuntimeError("MessageSizeTooLargeError"))

    monkeypatch.setattr(produce_module, "produce", refused)
    code = main(["generate", "--accounts", "2", "--days", "1", "--broker", "kafka://127.0.0.1:1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err == [
        "stream-app generate: 3 of 10 events were not delivered "
        "(first error: RuntimeError: MessageSizeTooLargeError)"
    ]
