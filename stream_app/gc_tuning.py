"""Garbage-collector settings for the long runs (a worker, a replay).

CPython runs its cycle collector every 700 net allocations (generation 0), and a full
collection walks every live object. A worker or a replay allocates a few short-lived
objects per event and holds state for every key, so with the defaults part of its CPU
goes to collections that find almost nothing: 5.3 % of a worker's CPU in its profile,
and these settings save 1.5 % of replay's instructions per event plus 75 M at start-up
(BENCHMARKS.md, third pass). Nothing in the KPI state relies on the cycle collector to be
freed: the state is trees of lists, dicts and tuples.

:func:`tune_for_streaming` freezes what start-up allocated (modules, settings, parsers:
never collected again) and makes collections rarer. Garbage cycles are still collected,
later. ``CS_GC_DEFAULTS=1`` keeps CPython's defaults (for comparing).
"""

from __future__ import annotations

import gc
import os

#: generation 0 every 50,000 net allocations, generation 1 every 20 of those, a full
#: collection every 100 of those (CPython also waits until it would grow the long-lived
#: objects by 25 %)
THRESHOLDS = (50_000, 20, 100)


def tune_for_streaming() -> bool:
    """Apply :data:`THRESHOLDS` after freezing start-up's objects; False (and nothing done)
    when ``CS_GC_DEFAULTS`` is set to a true value."""
    if os.environ.get("CS_GC_DEFAULTS", "").lower() in ("1", "true", "yes"):
        return False
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return True
