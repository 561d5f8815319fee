"""Broker outages in the worker's log: one warning when the broker becomes unreachable,
a reminder with a count while it lasts, one line when it is back.

Without this, aiokafka logs every failed reconnect, fetch, heartbeat and metadata
request at ERROR: hundreds of lines for a 15-second outage. :class:`BrokerOutageLog` is a
``logging.Filter`` put on every ``aiokafka`` logger: the first connection failure opens
an outage (one WARNING saying what is affected), every aiokafka warning or error during
it is counted instead of printed, :meth:`BrokerOutageLog.tick` (the worker calls it every
second) writes a reminder every ``remind_s`` seconds, and closes the outage with one line
once no connection failure has been logged for ``quiet_s`` seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import faust

#: aiokafka messages that mean "the broker cannot be reached" (they open an outage);
#: a coordinator that is not available yet (a broker starting, a rebalance) is not one
CONNECTION_FAILURES = (
    "Unable connect to",
    "Unable to update metadata",
    "Unable to request metadata",
    "Failed fetch messages from",
    "Failed fetch offsets from",
    "Heartbeat send request failed",
    "Cannot send",
    "Could not send",
    "Connection",
    "KafkaConnectionError",
    "NodeNotReady",
)
AFFECTED = (
    "consuming the event topics, state writes, offset commits, dead letters and "
    "account-health records wait for it (nothing is lost: they resume where they stopped); "
    "/metrics and the HTTP API keep serving the state as of the last batch"
)

log = logging.getLogger("stream_app.worker.broker")


def is_connection_failure(record: logging.LogRecord) -> bool:
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        text += " " + type(record.exc_info[1]).__name__
    return any(marker in text for marker in CONNECTION_FAILURES)


class BrokerOutageLog(logging.Filter):
    """Folds aiokafka's outage noise into three kinds of lines (see the module doc)."""

    def __init__(
        self,
        broker: str,
        remind_s: float = 30.0,
        quiet_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        out: logging.Logger = log,
    ) -> None:
        super().__init__()
        self.broker = broker
        self.remind_s = remind_s
        self.quiet_s = quiet_s
        self.clock = clock
        self.out = out
        self.since: float | None = None  # start of the current outage
        self.last_failure = 0.0
        self.last_reminder = 0.0
        self.suppressed = 0  # aiokafka warnings/errors not printed in this outage
        self.outages = 0

    @property
    def down(self) -> bool:
        return self.since is not None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        now = self.clock()
        failure = is_connection_failure(record)
        if failure:
            self.last_failure = now
        if self.since is None:
            if not failure:
                return True  # an aiokafka warning outside an outage: print it
            self.since = self.last_reminder = now
            self.suppressed = 1
            self.outages += 1
            self.out.warning(
                "Kafka broker %s unreachable (%s): %s. Retrying; a reminder every %.0f s.",
                self.broker,
                record.getMessage()[:200],
                AFFECTED,
                self.remind_s,
            )
            return False
        self.suppressed += 1
        self._remind(now)  # aiokafka keeps failing: remind from here too, timer or not
        return False

    def _remind(self, now: float) -> None:
        if self.since is not None and now - self.last_reminder >= self.remind_s:
            self.last_reminder = now
            self.out.warning(
                "Kafka broker %s still unreachable after %.0f s (%d aiokafka errors not printed)",
                self.broker,
                now - self.since,
                self.suppressed,
            )

    def tick(self) -> None:
        """Reminder while the outage lasts; the closing line once it is over."""
        if self.since is None:
            return
        now = self.clock()
        if now - self.last_failure >= self.quiet_s:
            self.out.warning(
                "Kafka broker %s reachable again: no connection error for %.0f s "
                "(outage of about %.0f s, %d aiokafka errors not printed)",
                self.broker,
                self.quiet_s,
                self.last_failure - self.since,
                self.suppressed,
            )
            self.since = None
            self.suppressed = 0
            return
        self._remind(now)


def aiokafka_loggers() -> Iterable[logging.Logger]:
    """``aiokafka`` and every logger under it known so far (a filter on a parent logger
    does not see its children's records)."""
    import aiokafka  # noqa: F401  (registers its module loggers)

    names = {"aiokafka"} | {
        name for name in logging.Logger.manager.loggerDict if name.startswith("aiokafka.")
    }
    return [logging.getLogger(name) for name in sorted(names)]


def install(broker: str, **kwargs: float) -> BrokerOutageLog:
    """Put one :class:`BrokerOutageLog` on every aiokafka logger (replacing an earlier
    one: one watcher per process)."""
    watcher = BrokerOutageLog(broker, **kwargs)  # type: ignore[arg-type]
    for logger in aiokafka_loggers():
        for old in [f for f in logger.filters if isinstance(f, BrokerOutageLog)]:
            logger.removeFilter(old)
        logger.addFilter(watcher)
    return watcher


def watch_broker_outages(app: faust.App, broker: str) -> BrokerOutageLog:
    """:func:`install`, and a timer of ``app`` that calls :meth:`BrokerOutageLog.tick`
    every second (it runs on the event loop, broker or not)."""
    watcher = install(broker)

    @app.timer(1.0)
    async def _broker_outage_log() -> None:
        watcher.tick()

    return watcher
