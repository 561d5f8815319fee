"""Per-account state: the unit that is persisted (one changelog record per account)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class AccountState:
    """Everything the core knows about one account, in compact plain types.

    ``users`` and ``features`` keep each user's last active day (days since epoch in
    the configured timezone); windows are read from them as of any day.
    ``offsets`` is the highest source offset applied per topic role (worker only):
    a redelivered message at or below it is already in this state.
    ``seen`` keeps recent event ids per topic role, for ``max_day`` (the latest event day
    of that role) minus the dedupe horizon. A copy of an event has the event's type, so
    it travels on the same topic and partition: keeping the horizon per role makes
    deduplication independent of how the four topics interleave on arrival.
    """

    users: dict[str, int] = field(default_factory=dict)
    features: dict[str, dict[str, int]] = field(default_factory=dict)
    seen: dict[str, dict[str, int]] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    max_day: dict[str, int] = field(default_factory=dict)

    def to_record(self, partition: int) -> dict[str, Any]:
        """Compact JSON-able form (short keys: it is written on every change)."""
        return {
            "p": partition,
            "u": self.users,
            "f": self.features,
            "s": self.seen,
            "o": self.offsets,
            "c": self.counts,
            "d": self.duplicates,
            "m": self.max_day,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> AccountState:
        return cls(
            users=dict(record.get("u", {})),
            features={k: dict(v) for k, v in record.get("f", {}).items()},
            seen={role: dict(ids) for role, ids in record.get("s", {}).items()},
            offsets=dict(record.get("o", {})),
            counts=dict(record.get("c", {})),
            duplicates=int(record.get("d", 0)),
            max_day=dict(record.get("m", {})),
        )
