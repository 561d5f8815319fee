"""What ``stream-app run`` asks for (cheap to import: the parser reads the defaults)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LocalRun:
    """The demo's knobs. The defaults give meaningful 30-day figures: 120 days of history
    (so the 30-day window starts with accounts that have been paying for months), loaded
    in a minute or two, then the company lives on ``speed`` times faster than the
    clock so that the table moves every second."""

    accounts: int = 1000  # simulated accounts
    days: int = 120  # days of history loaded first (>= 90: churn needs a paying base)
    rate: float = 20_000  # history events per second while loading
    speed: float = 720  # live: simulated seconds per wall-clock second (a day in 2 min)
    partitions: int = 4
    web_port: int = 6066  # worker /metrics port
    seed: int = 42
    refresh: float = 1.0  # seconds between table refreshes
    duration: float | None = None  # stop after this many seconds (None: on Ctrl-C)
