"""Metric families as plain data: what the core exports, before any Prometheus type.

A family is additive across partitions and workers: merging sums samples that share
a suffix and a label set. Ratios are never computed here (see docs/kpis.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Labels = tuple[tuple[str, str], ...]
Kind = Literal["gauge", "counter", "gaugehistogram"]


@dataclass
class Family:
    """One metric family: ``samples`` maps (suffix, labels) to a value."""

    name: str
    kind: Kind
    help: str
    samples: dict[tuple[str, Labels], float] = field(default_factory=dict)

    def add(self, value: float, suffix: str = "", **labels: str) -> None:
        key = (suffix, tuple(sorted(labels.items())))
        self.samples[key] = self.samples.get(key, 0.0) + value


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
                into.samples[key] = into.samples.get(key, 0.0) + value
    return list(out.values())
