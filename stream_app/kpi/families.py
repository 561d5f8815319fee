"""Metric families as plain data: what the core exports, before any Prometheus type.

A family is additive across partitions and workers: merging sums samples that share
a suffix and a label set. Ratios are never computed here (see docs/kpis.md).

Values are ints, or ``Fraction`` for anything not whole (money in major units from
minor units, seconds from milliseconds): sums of those are exact whatever the order, so
a worker's partitions add up to exactly what replay's single core says. They become
floats only at exposition.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

Labels = tuple[tuple[str, str], ...]
Number = int | float | Fraction
Kind = Literal["gauge", "counter", "gaugehistogram"]


@dataclass
class Family:
    """One metric family: ``samples`` maps (suffix, labels) to a value."""

    name: str
    kind: Kind
    help: str
    samples: dict[tuple[str, Labels], Number] = field(default_factory=dict)

    def add(self, value: Number, suffix: str = "", **labels: str) -> None:
        key = (suffix, tuple(sorted(labels.items())))
        self.samples[key] = self.samples.get(key, 0) + value


def add_gauge_histogram(
    fam: Family, buckets: Sequence[float], values: Iterable[Number], **labels: str
) -> None:
    """Fill ``fam`` (kind ``gaugehistogram``) with cumulative ``_bucket`` samples for each
    upper bound in ``buckets`` plus ``+Inf``, and ``_gcount`` / ``_gsum``."""
    bounds = sorted(buckets)
    counts = [0] * (len(bounds) + 1)
    total: Number = 0
    n = 0
    for value in values:
        n += 1
        total += value
        counts[bisect_left(bounds, value)] += 1
    running = 0
    for bound, count in zip([*bounds, float("inf")], counts, strict=True):
        running += count
        le = "+Inf" if bound == float("inf") else repr(float(bound))
        fam.add(running, "_bucket", le=le, **labels)
    fam.add(n, "_gcount", **labels)
    fam.add(total, "_gsum", **labels)


def merge(groups: Iterable[Iterable[Family]]) -> list[Family]:
    """Sum families of the same name across partitions; keeps first-seen order."""
    out: dict[str, Family] = {}
    for families in groups:
        for fam in families:
            into = out.get(fam.name)
            if into is None:
                out[fam.name] = Family(fam.name, fam.kind, fam.help, dict(fam.samples))
                continue
            for key, value in fam.samples.items():
                into.samples[key] = into.samples.get(key, 0) + value
    return list(out.values())


def add_gauge_histogram_counts(
    fam: Family, buckets: Sequence[float], counts: Mapping[int, int], **labels: str
) -> None:
    """Like :func:`add_gauge_histogram`, from how many values there are of each value
    (``counts``: value -> how many), for an aggregate kept as a distribution."""
    bounds = sorted(buckets)
    per_bucket = [0] * (len(bounds) + 1)
    total = 0
    n = 0
    for value, count in counts.items():
        if count:
            n += count
            total += value * count
            per_bucket[bisect_left(bounds, value)] += count
    running = 0
    for bound, count in zip([*bounds, float("inf")], per_bucket, strict=True):
        running += count
        le = "+Inf" if bound == float("inf") else repr(float(bound))
        fam.add(running, "_bucket", le=le, **labels)
    fam.add(n, "_gcount", **labels)
    fam.add(total, "_gsum", **labels)
