"""The company's past: every event of the history window, in time order."""

from __future__ import annotations

from collections.abc import Iterator

from stream_app.generator.clock import US_PER_DAY, TsFormatter, ceil_ms, floor_ms
from stream_app.generator.company import Company
from stream_app.generator.config import GeneratorConfig
from stream_app.generator.noise import Noise


def generate_history(cfg: GeneratorConfig) -> Iterator[dict[str, object]]:
    """All events with ``end - days <= ts <= end``, in ascending ``ts`` order.

    The company is simulated one UTC day at a time, so memory holds one day of events.
    With ``duplicate_ratio`` or ``invalid_ratio`` set, the injected events sit slightly
    out of order (a duplicate keeps its original's ``ts``). Same config, same output.
    """
    company = Company(cfg)
    noise = Noise(company.cfg, "history")
    fmt = TsFormatter()
    # the bounds apply to the ts as written (whole milliseconds)
    low, high = ceil_ms(company.start_us), floor_ms(company.end_us) + 1_000
    while company.next_day * US_PER_DAY < high:
        day = company.next_day
        yield from noise.apply(fmt.stamp(company.simulate_day(), day, low, high))
