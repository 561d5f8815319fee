"""The worker's log during a broker outage: one warning, reminders with a count, one line
when it is back (stream_app/worker/outage_log.py), with a fake clock."""

from __future__ import annotations

import logging

import pytest

from stream_app.worker.outage_log import BrokerOutageLog, aiokafka_loggers, install


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(message: str, level: int = logging.ERROR, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


REFUSED = 'Unable connect to "127.0.0.1:9092": [Errno 111] Connect call failed'


@pytest.fixture
def setup(caplog: pytest.LogCaptureFixture) -> tuple[BrokerOutageLog, Clock]:
    caplog.set_level(logging.INFO, logger="stream_app.worker.broker")
    clock = Clock()
    return BrokerOutageLog("kafka://127.0.0.1:9092", remind_s=30, quiet_s=10, clock=clock), clock


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "stream_app.worker.broker"]


def test_an_outage_is_three_kinds_of_lines(
    setup: tuple[BrokerOutageLog, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    watcher, clock = setup
    printed = []
    # 45 s of outage: ~40 aiokafka errors a second, as measured in issue 13
    for step in range(45 * 40):
        clock.now = 1000.0 + step / 40
        message = REFUSED if step % 3 else "Failed fetch messages from 1: NodeNotReadyError"
        if watcher.filter(record(message)):
            printed.append(message)
        if step % 40 == 0:
            watcher.tick()
    assert printed == []
    assert watcher.down
    said = lines(caplog)
    assert len(said) == 2, said
    assert said[0].startswith("Kafka broker kafka://127.0.0.1:9092 unreachable")
    assert "consuming the event topics" in said[0] and "/metrics" in said[0]
    assert "still unreachable after 30 s" in said[1] and "aiokafka errors not printed" in said[1]
    # the broker is back: no error for quiet_s, then one line
    clock.now += 5
    watcher.tick()
    assert len(lines(caplog)) == 2
    clock.now += 5
    watcher.tick()
    said = lines(caplog)
    assert len(said) == 3 and "reachable again" in said[2]
    assert f"{45 * 40} aiokafka errors not printed" in said[2]
    assert not watcher.down
    watcher.tick()
    assert len(lines(caplog)) == 3


def test_reminders_come_every_remind_s_with_a_growing_count(
    setup: tuple[BrokerOutageLog, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    watcher, clock = setup
    for second in range(95):
        clock.now = 1000.0 + second
        watcher.filter(record(REFUSED))
        watcher.filter(record(REFUSED))
        watcher.tick()
    said = lines(caplog)
    reminders = [s for s in said if "still unreachable" in s]
    assert [r.split(" after ")[1].split(" s ")[0] for r in reminders] == ["30", "60", "90"]
    counts = [int(r.split("(")[1].split()[0]) for r in reminders]
    # the first reminder comes with the first error at 30 s: 2 a second before it, plus it
    assert counts == sorted(counts) and counts[0] == 61


def test_other_aiokafka_lines_pass_outside_an_outage_and_info_always(
    setup: tuple[BrokerOutageLog, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    watcher, clock = setup
    assert watcher.filter(
        record("Heartbeat failed for group x because it is rebalancing", logging.WARNING)
    )
    assert watcher.filter(record("Discovered coordinator 1", logging.INFO))
    starting = "Group Coordinator Request failed: [Error 15] GroupCoordinatorNotAvailableError"
    assert watcher.filter(record(starting))  # a broker starting up is not an outage
    assert not watcher.down and lines(caplog) == []
    assert not watcher.filter(record(REFUSED))
    # during the outage every aiokafka warning or error is counted, not printed
    assert not watcher.filter(record("OffsetCommit failed before join", logging.WARNING))
    assert watcher.filter(record("Discovered coordinator 1", logging.INFO))
    assert watcher.suppressed == 2
    # a second outage is reported again
    clock.now += 10
    watcher.tick()
    clock.now += 1
    assert not watcher.filter(record(REFUSED))
    assert watcher.outages == 2
    assert sum("unreachable (" in s for s in lines(caplog)) == 2


def test_installed_on_every_aiokafka_logger_once() -> None:
    first = install("kafka://a:1")
    second = install("kafka://a:1")
    for logger in aiokafka_loggers():
        mine = [f for f in logger.filters if isinstance(f, BrokerOutageLog)]
        assert mine == [second], logger.name
    assert first is not second
    names = {logger.name for logger in aiokafka_loggers()}
    assert {"aiokafka", "aiokafka.conn", "aiokafka.consumer.fetcher"} <= names
    for logger in aiokafka_loggers():
        logger.removeFilter(second)
