"""One partition's KPI state: validation, deduplication, bookkeeping, reads.

The worker keeps one ``PartitionCore`` per assigned partition; ``replay`` uses one for
everything. Both feed it the same bytes through :meth:`PartitionCore.ingest`, so they
cannot disagree.
"""

from __future__ import annotations

import enum
import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from stream_app.contract import EVENT_TYPES, REJECTION_REASONS, TYPE_TOPIC, Rejection
from stream_app.contract_fast import Event, EventParser
from stream_app.kpi.account import AccountState
from stream_app.kpi.families import Family
from stream_app.kpi.group import KpiGroup, ReadContext
from stream_app.kpi.registry import build_groups
from stream_app.settings import KpiSettings

log = logging.getLogger(__name__)
_NO_US = -(2**63)


class Outcome(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REDELIVERED = "redelivered"  # already in state (worker restart): ignored silently
    REJECTED = "rejected"
    LATER = "later"  # replay only: after --as-of, not counted


_OUTCOME_NAMES = {o: o.value for o in Outcome}


class PartitionCore:
    """KPI state of one partition (or of a whole replay)."""

    def __init__(self, settings: KpiSettings, partition: int = 0) -> None:
        self.settings = settings
        self.partition = partition
        self.tz = settings.tz
        self.horizon = settings.dedupe_horizon_days
        self.max_lateness_s = settings.max_lateness_days * 86400.0
        self.errors: Counter[str] = Counter()
        self.max_bytes = settings.max_message_bytes
        self.accounts: dict[str, AccountState] = {}
        self.groups: list[KpiGroup[Any]] = build_groups(settings)
        self._by_type: dict[str, list[KpiGroup[Any]]] = {
            t: [g for g in self.groups if t in g.types] for t in EVENT_TYPES
        }
        #: event type -> (key, new, apply) of the groups that take it (the hot loop's view)
        self._appliers = {
            t: [(g.key, g.new, g.apply) for g in groups] for t, groups in self._by_type.items()
        }
        self.parser = EventParser(self.tz, self.max_bytes)
        self._checks = [g.check for g in self.groups if type(g).check is not KpiGroup.check]
        self.type_counts: dict[str, int] = dict.fromkeys(EVENT_TYPES, 0)
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()
        self.offsets: dict[str, int] = {}  # role -> highest offset fully handled
        self.dirty: set[str] = set()
        self.max_us = _NO_US  # the latest event time applied (epoch microseconds)

    # -- ingest ---------------------------------------------------------------
    def ingest(
        self,
        raw: bytes | str,
        role: str | None = None,
        key: bytes | None = None,
        offset: int | None = None,
        *,
        now: float | None = None,
        check_future: bool = False,
        until: float | None = None,
    ) -> tuple[Outcome, Event | Rejection]:
        """Validate and apply one message; never raises on bad input.

        ``now`` (epoch seconds) is the clock of lateness: an event older than
        ``max_lateness_days`` before it is rejected as ``too_late``; with
        ``check_future`` one more than ``future_tolerance_s`` after it as ``future``.
        ``until`` (replay's ``--as-of``): a valid event with a later ``ts`` is not
        counted at all (outcome ``LATER``), as if it had not happened yet.
        """
        if role is not None and offset is not None and offset <= self.offsets.get(role, -1):
            return Outcome.REDELIVERED, Rejection("redelivered", "handled before a restart")
        result = self._validate(raw, role, key, now, check_future)
        if type(result) is Rejection:
            self.rejected[result.reason] += 1
            self._handled(role, offset)
            return Outcome.REJECTED, result
        event, day = result  # type: ignore[misc]
        if until is not None and event.us > until * 1_000_000:
            return Outcome.LATER, event
        outcome = self.apply(event, day, role, offset)
        self._handled(role, offset)
        return outcome, event

    def ingest_batch(
        self,
        messages: Iterable[tuple[bytes | None, bytes | None, int]],
        role: str,
        *,
        now: float,
        check_future: bool = True,
    ) -> tuple[dict[str, int], list[tuple[int, Rejection]]]:
        """:meth:`ingest` of the (value, key, offset) messages of one topic partition, in
        offset order (the worker's hot loop): outcome counts, and (offset, rejection)."""
        outcomes: dict[str, int] = {}
        rejected: list[tuple[int, Rejection]] = []
        done = self.offsets.get(role, -1)
        validate = self._validate
        apply = self.apply
        for value, key, offset in messages:
            if offset <= done:
                name = "redelivered"
            else:
                result = validate(value or b"", role, key, now, check_future)
                if type(result) is Rejection:
                    self.rejected[result.reason] += 1
                    rejected.append((offset, result))
                    name = "rejected"
                else:
                    event, day = result  # type: ignore[misc]
                    name = _OUTCOME_NAMES[apply(event, day, role, offset)]
                done = offset
            outcomes[name] = outcomes.get(name, 0) + 1
        if done > self.offsets.get(role, -1):
            self.offsets[role] = done
        return outcomes, rejected

    def _validate(
        self,
        raw: bytes | str,
        role: str | None,
        key: bytes | None,
        now: float | None,
        check_future: bool,
    ) -> tuple[Event, int] | Rejection:
        result = self.parser.parse(raw)
        if type(result) is Rejection:
            return result
        event = result[0]  # type: ignore[index]
        if role is not None and TYPE_TOPIC[event.type] != role:
            return Rejection("wrong_topic", f"{event.type} is not a {role} event")
        if key is not None and key != event.account_id.encode("utf-8"):
            return Rejection("key_mismatch", "message key differs from account_id")
        if now is not None:
            ts = event.us / 1_000_000
            if ts < now - self.max_lateness_s:
                return Rejection("too_late", f"older than {self.settings.max_lateness_days} days")
            if check_future and ts > now + self.settings.future_tolerance_s:
                return Rejection("future", f"more than {self.settings.future_tolerance_s}s ahead")
        for check in self._checks:
            refused = check(event)
            if refused is not None:
                return refused
        return result

    def _handled(self, role: str | None, offset: int | None) -> None:
        if role is not None and offset is not None and offset > self.offsets.get(role, -1):
            self.offsets[role] = offset

    def apply(
        self, event: Event, day: int, role: str | None = None, offset: int | None = None
    ) -> Outcome:
        """Apply one valid event whose calendar day is ``day``."""
        account_id = event.account_id
        acct = self.accounts.get(account_id)
        if acct is None:
            acct = self.accounts[account_id] = AccountState()
        if role is not None and offset is not None:
            if offset <= acct.offsets.get(role, -1):
                return Outcome.REDELIVERED
            acct.offsets[role] = offset
        self.dirty.add(account_id)
        kind = event.type
        role_of = TYPE_TOPIC[kind]
        seen = acct.seen.get(role_of)
        if seen is None:
            seen = acct.seen[role_of] = {}
        event_id = event.event_id
        if event_id in seen:
            acct.duplicates += 1
            self.duplicates += 1
            return Outcome.DUPLICATE
        max_day = acct.max_day
        latest = max_day.get(role_of)
        if latest is None:
            latest = max_day[role_of] = acct.oldest[role_of] = day
        elif day > latest:
            latest = max_day[role_of] = day
            cutoff = day - self.horizon
            if acct.oldest.get(role_of, cutoff) < cutoff:  # forget ids beyond the horizon
                seen = acct.seen[role_of] = {k: d for k, d in seen.items() if d >= cutoff}
                acct.oldest[role_of] = min(seen.values(), default=day)
        if day >= latest - self.horizon:
            seen[event_id] = day
            if day < latest and day < acct.oldest.get(role_of, latest):
                acct.oldest[role_of] = day
        counts = acct.counts
        counts[kind] = counts.get(kind, 0) + 1
        self.type_counts[kind] += 1
        if event.us > self.max_us:
            self.max_us = event.us
        groups = acct.groups
        for key, new, group_apply in self._appliers[kind]:
            state = groups.get(key)
            if state is None:
                state = groups[key] = new()
            try:
                group_apply(account_id, state, event, day)
            except Exception as exc:  # one KPI's bug must not stop the others or the stream
                self.errors[key] += 1
                log.warning("KPI group %r failed on a %s event: %r", key, kind, exc)
        return Outcome.APPLIED

    @property
    def max_ts(self) -> float | None:
        """The latest event time applied (epoch seconds), None before any."""
        return None if self.max_us == _NO_US else self.max_us / 1_000_000

    def settle(self) -> None:
        """Finish the groups' deferred work (once per batch; reads call it too)."""
        for group in self.groups:
            group.settle()

    # -- persistence ----------------------------------------------------------
    def take_dirty(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Records of the accounts changed since the last call (coalesced)."""
        self.settle()
        dirty, self.dirty = self.dirty, set()
        for account_id in sorted(dirty):
            acct = self.accounts[account_id]
            slices = {
                g.key: g.dump(acct.groups[g.key]) for g in self.groups if g.key in acct.groups
            }
            yield account_id, acct.to_record(self.partition, slices)

    def drain_outbox(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Records the groups want published (topic role, key, value); clears them."""
        self.settle()
        out: list[tuple[str, str, dict[str, Any]]] = []
        for group in self.groups:
            if group.outbox:
                out.extend(group.outbox)
                group.outbox.clear()
        return out

    def meta_record(self) -> dict[str, Any]:
        """Partition-level state: rejections and handled offsets."""
        return {"p": self.partition, "r": dict(self.rejected), "o": dict(self.offsets)}

    def load_meta(self, record: dict[str, Any]) -> None:
        self.rejected = Counter(record.get("r", {}))
        self.offsets = dict(record.get("o", {}))

    def load_account(self, account_id: str, record: dict[str, Any]) -> None:
        """Add a recovered account (from the changelog) to this partition."""
        acct = AccountState.from_record(record)
        self.accounts[account_id] = acct
        for kind, n in acct.counts.items():
            self.type_counts[kind] = self.type_counts.get(kind, 0) + n
        self.duplicates += acct.duplicates
        slices = record.get("g", {})
        for group in self.groups:
            if group.key in slices:
                state = acct.groups[group.key] = group.load(slices[group.key])
                group.attach(account_id, state)

    # -- reads ----------------------------------------------------------------
    def context(self, as_of: datetime) -> ReadContext:
        return ReadContext(as_of, self.tz)

    def group_states(self, group: KpiGroup[Any]) -> dict[str, Any]:
        """Account id -> ``group``'s state, for accounts that have one."""
        key = group.key
        return {aid: acct.groups[key] for aid, acct in self.accounts.items() if key in acct.groups}

    def describe(self, account_id: str, as_of: datetime) -> dict[str, Any] | None:
        """JSON view of one account (None when unknown to this partition)."""
        acct = self.accounts.get(account_id)
        if acct is None:
            return None
        self.settle()
        ctx = self.context(as_of)
        view: dict[str, Any] = {"account_id": account_id, "events": dict(acct.counts)}
        for group in self.groups:
            if group.key in acct.groups:
                view.update(group.describe(acct.groups[group.key], ctx))
        return view

    def families(self, as_of: datetime) -> list[Family]:
        """Every ``cs_*`` family as of ``as_of`` (event time)."""
        self.settle()
        events = Family("cs_events", "counter", "Accepted events by type.")
        for name in EVENT_TYPES:
            events.add(self.type_counts.get(name, 0), "_total", type=name)
        dups = Family(
            "cs_events_duplicate",
            "counter",
            "Events whose event_id was already processed (counted once).",
        )
        dups.add(self.duplicates, "_total")
        rejected = Family("cs_events_rejected", "counter", "Rejected events by reason.")
        for reason in REJECTION_REASONS:
            rejected.add(self.rejected.get(reason, 0), "_total", reason=reason)
        errors = Family(
            "cs_kpi_errors", "counter", "Events a KPI group failed to apply (a bug: see logs)."
        )
        for group in self.groups:
            errors.add(self.errors.get(group.key, 0), "_total", group=group.name or group.key)
        ctx = self.context(as_of)
        out = [events, dups, rejected, errors]
        for group in self.groups:
            out.extend(group.families(ctx, self.group_states(group)))
        return out
