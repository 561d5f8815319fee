"""Checks of the declared field kinds on decoded JSON values (the fast path's and the
dependent bounds' one definition of "within bounds")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stream_app.contract.declared import Choice, CurrencyCode, Integer, Kind, Text

Check = Callable[[Any], bool]


def checker(kind: Kind) -> Check:
    """A predicate that is True exactly when pydantic (strict) accepts ``value`` for
    ``kind`` unchanged."""
    if isinstance(kind, Text):
        low, high = kind.min_len, kind.max_len
        return lambda v: type(v) is str and low <= len(v) <= high
    if isinstance(kind, Integer):
        lo = kind.low if kind.low is not None else -(2**63)
        hi = kind.high if kind.high is not None else 2**63 - 1
        return lambda v: type(v) is int and lo <= v <= hi
    if isinstance(kind, Choice):
        allowed = frozenset(kind.values)
        return lambda v: type(v) is str and v in allowed
    if isinstance(kind, CurrencyCode):
        return lambda v: (
            type(v) is str and len(v) == 3 and v.isascii() and v.isalpha() and v.isupper()
        )
    raise TypeError(kind)  # pragma: no cover - the declaration's kinds are closed


def satisfies(kind: Kind, value: Any) -> bool:
    return checker(kind)(value)
