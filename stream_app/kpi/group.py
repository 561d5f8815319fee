"""The interface every KPI group implements, and what a read sees.

A group owns one slice of per-account state (created on the first event of one of its
``types``), keeps whatever partition-level aggregates it wants, and turns them into
additive families as of a time T. It has no Faust or Kafka imports.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, ClassVar, Generic, TypeVar

from stream_app.contract import Event, Rejection
from stream_app.kpi.families import Family
from stream_app.kpi.settings import KpiSettings
from stream_app.timeutil import day_of, day_start

S = TypeVar("S")


@dataclass(frozen=True)
class ReadContext:
    """ "As of T": the time, its calendar day, and the timezone of days."""

    as_of: datetime
    tz: tzinfo

    @property
    def as_of_ts(self) -> float:
        return self.as_of.timestamp()

    @property
    def as_of_day(self) -> int:
        return day_of(self.as_of, self.tz)

    def first_day(self, days: int) -> int:
        """First day of the ``days``-day window ending on T's day."""
        return self.as_of_day - days + 1

    def day_start_ts(self, day: int) -> float:
        """Epoch seconds of 00:00 of ``day`` in the configured timezone."""
        return day_start(day, self.tz).timestamp()


class KpiGroup(ABC, Generic[S]):
    """One KPI group (usage, onboarding, revenue, health …)."""

    #: the group's one identifier: its folder under ``stream_app/kpi/groups/``, the key of
    #: its slice in the account record and the ``group`` label of ``cs_kpi_errors_total``
    name: ClassVar[str]
    #: event types this group consumes; others never reach :meth:`apply`
    types: ClassVar[frozenset[str]]
    #: the key field of its types' topics (declared in :mod:`stream_app.contract.declared`):
    #: the group's state is per value of it
    key_field: ClassVar[str] = "account_id"
    #: whether :meth:`families` reads the per-key states (False: it reads only the group's
    #: own aggregates, and the core skips building the key -> state mapping at each scrape)
    reads_states: ClassVar[bool] = True
    #: whether :meth:`freeze` and :meth:`thaw` are implemented. When every group of a key
    #: field's keys has them, the core keeps a key whose changes are stored (a settled key:
    #: most of them, most of the time) as one bytes object instead of its state's
    #: objects, and thaws it at its next event (:func:`stream_app.kpi.keystate.freeze`)
    freezes: ClassVar[bool] = False

    def __init__(self, settings: KpiSettings) -> None:
        self.settings = settings
        #: records for other systems (e.g. health band changes): (topic role, key, value);
        #: the worker publishes and clears them after each batch, replay discards them
        self.outbox: list[tuple[str, str, dict[str, Any]]] = []

    def check(self, event: Event) -> Rejection | None:
        """Reject a contract-valid event this group cannot accept (e.g. a currency)."""
        return None

    @abstractmethod
    def new(self) -> S:
        """Empty per-account state."""

    @abstractmethod
    def apply(self, key: str, state: S, event: Event, day: int) -> None:
        """Apply one new (deduplicated) event of ``key`` (the value of the group's key
        field); ``day`` is its calendar day."""

    def settle(self) -> None:
        """Finish work deferred from :meth:`apply` (called after each batch, before reads
        and persistence): e.g. judge changed accounts once per batch, not per event."""

    @abstractmethod
    def attach(self, account_id: str, state: S) -> None:
        """Add a recovered account's state to the partition aggregates."""

    @abstractmethod
    def families(self, ctx: ReadContext, states: Mapping[str, S]) -> list[Family]:
        """Additive families as of ``ctx``; ``states`` maps account id -> this group's state."""

    def take_forgotten(self) -> list[str]:
        """Keys this group found idle (in :meth:`settle`) and wants the core to forget;
        the core then calls :meth:`forget` for each and drops the key's state."""
        return []

    def forget(self, key: str, state: S) -> None:
        """Take a forgotten key's ``state`` out of the partition aggregates."""

    def describe(self, state: S, ctx: ReadContext) -> dict[str, Any]:
        """JSON view of one account's state (for the per-account API)."""
        return {}

    def summary(self, state: S, ctx: ReadContext) -> dict[str, Any]:
        """A few flat facts of one account for account lists (``GET /accounts``): cheap to
        read for every account, JSON-able scalars or short lists. The core merges every
        group's summary (:meth:`PartitionCore.summaries`); names must not clash."""
        return {}

    def freeze(self, key: str, state: S) -> Any:
        """The slice of ``key`` as msgpack-able values, for the core's frozen form of the
        key (None: it cannot be frozen now, the key stays as it is); work deferred to
        :meth:`settle` for this key is done first. May refer to process-wide tables: the
        form never leaves the process. The core then keeps the key frozen (a group that
        indexes its keys drops this one from its index: the core's store of frozen keys
        holds it, tagged with :meth:`idle_day`, and :meth:`idle_before` finds it there)."""
        return None

    def keep_thawed(self, keys: int) -> None:
        """The core keeps up to ``keys`` keys of a freezing group's field thawed (its
        ``hot_keys``, told every group once, at its start): a group that also packs the
        keys it changed may keep as many unpacked."""

    def thaw(self, key: str, raw: Any, stored: bool) -> S:
        """Inverse of :meth:`freeze` (the aggregates already hold the slice). ``stored``:
        the core keeps the thawed key from now on (it is indexed again), not only reads it."""
        raise NotImplementedError(f"the {self.name} group does not freeze its slices")

    def idle_day(self, state: S) -> int | None:
        """For a group that freezes and forgets idle keys: the day ``state``'s key went
        idle (its latest day; None: never forgotten while frozen)."""
        return None

    def idle_before(self) -> int | None:
        """For a group that freezes and forgets idle keys: the frozen keys whose
        :meth:`idle_day` is before this day are forgotten (by the core, in each settle,
        as the keys :meth:`take_forgotten` lists among the thawed ones)."""
        return None

    @abstractmethod
    def dump(self, state: S) -> Any:
        """JSON-able form of the state (compact)."""

    @abstractmethod
    def load(self, raw: Any) -> S:
        """Inverse of :meth:`dump`."""
