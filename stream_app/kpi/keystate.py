"""Per-key state: the unit that is persisted (one changelog record per key).

A key is the value of a topic's key field (``account_id`` for the account topics,
``visitor_id`` or ``source`` for others: :mod:`stream_app.contract.declared`). Its state
holds the bookkeeping common to all KPI groups (redelivery, deduplication, counts) and
each group's slice in ``groups``. :meth:`KeyState.admit` is the one place that decides
whether an event is new to the key.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Outcome(enum.Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    REDELIVERED = "redelivered"  # already in state (worker restart): ignored silently
    REJECTED = "rejected"
    LATER = "later"  # replay only: after --as-of, not counted


@dataclass(slots=True)
class KeyState:
    """Bookkeeping of one key, plus each group's slice in ``groups``.

    ``offsets`` is the highest source offset applied per topic role (worker only):
    a redelivered message at or below it is already in this state.
    ``seen`` keeps recent event ids per topic role, for ``max_day`` (the latest event day
    of that role) minus the dedupe horizon. A copy of an event has the event's type, so
    it travels on the same topic and partition: keeping the horizon per role makes
    deduplication independent of how the topics interleave on arrival.
    """

    seen: dict[str, dict[str, int]] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    max_day: dict[str, int] = field(default_factory=dict)
    groups: dict[str, Any] = field(default_factory=dict)
    #: per role, the earliest day in ``seen`` (derived, not persisted)
    oldest: dict[str, int] = field(default_factory=dict)

    def admit(
        self,
        role: str,
        event_id: str,
        day: int,
        horizon: int,
        offset: int | None = None,
    ) -> Outcome:
        """Whether an event of topic ``role`` is new to this key: REDELIVERED when its
        source ``offset`` is already in this state, DUPLICATE when its ``event_id`` was
        seen within ``horizon`` days of the key's latest day of that role, else APPLIED
        (and remembered)."""
        if offset is not None:
            if offset <= self.offsets.get(role, -1):
                return Outcome.REDELIVERED
            self.offsets[role] = offset
        seen = self.seen.get(role)
        if seen is None:
            seen = self.seen[role] = {}
        if event_id in seen:
            self.duplicates += 1
            return Outcome.DUPLICATE
        max_day = self.max_day
        latest = max_day.get(role)
        if latest is None:
            latest = max_day[role] = self.oldest[role] = day
        elif day > latest:
            latest = max_day[role] = day
            cutoff = day - horizon
            if self.oldest.get(role, cutoff) < cutoff:  # forget ids beyond the horizon
                seen = self.seen[role] = {k: d for k, d in seen.items() if d >= cutoff}
                self.oldest[role] = min(seen.values(), default=day)
        if day >= latest - horizon:
            seen[event_id] = day
            if day < latest and day < self.oldest.get(role, latest):
                self.oldest[role] = day
        return Outcome.APPLIED

    def to_record(self, partition: int, groups: dict[str, Any]) -> dict[str, Any]:
        """Compact JSON-able form; ``groups`` holds the groups' dumped slices."""
        return {
            "p": partition,
            "s": self.seen,
            "o": self.offsets,
            "c": self.counts,
            "d": self.duplicates,
            "m": self.max_day,
            "g": groups,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> KeyState:
        """Bookkeeping from a record; the caller loads ``record["g"]`` through the groups."""
        return cls(
            seen={role: dict(ids) for role, ids in record.get("s", {}).items()},
            offsets=dict(record.get("o", {})),
            counts=dict(record.get("c", {})),
            duplicates=int(record.get("d", 0)),
            max_day=dict(record.get("m", {})),
            oldest={role: min(ids.values()) for role, ids in record.get("s", {}).items() if ids},
        )
