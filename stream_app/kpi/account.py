"""Per-account state: the unit that is persisted (one changelog record per account)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class AccountState:
    """Bookkeeping common to all KPI groups, plus each group's slice in ``groups``.

    ``offsets`` is the highest source offset applied per topic role (worker only):
    a redelivered message at or below it is already in this state.
    ``seen`` keeps recent event ids per topic role, for ``max_day`` (the latest event day
    of that role) minus the dedupe horizon. A copy of an event has the event's type, so
    it travels on the same topic and partition: keeping the horizon per role makes
    deduplication independent of how the four topics interleave on arrival.
    """

    seen: dict[str, dict[str, int]] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    max_day: dict[str, int] = field(default_factory=dict)
    groups: dict[str, Any] = field(default_factory=dict)
    #: per role, the earliest day in ``seen`` (derived, not persisted)
    oldest: dict[str, int] = field(default_factory=dict)

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
    def from_record(cls, record: dict[str, Any]) -> AccountState:
        """Bookkeeping from a record; the caller loads ``record["g"]`` through the groups."""
        return cls(
            seen={role: dict(ids) for role, ids in record.get("s", {}).items()},
            offsets=dict(record.get("o", {})),
            counts=dict(record.get("c", {})),
            duplicates=int(record.get("d", 0)),
            max_day=dict(record.get("m", {})),
            oldest={
                role: min(ids.values()) for role, ids in record.get("s", {}).items() if ids
            },
        )
