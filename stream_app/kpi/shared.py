"""One int object per day value held in per-key state.

A day (days since 1970-01-01, ~20,000) is above CPython's cache of small ints, so every
int object of it costs 32 bytes. On the pure-Python path every state holds the parser's
cached object of the day; the compiled build works on unboxed ints and boxes a new object
each time it stores one in a list, a dict or an ``int | None`` attribute: 32 bytes a key
per day stored (two in a key's dedupe window, two in a visitor's web state, one per user
in the health group). Those stores go through :func:`shared_int`, typed ``Any`` so that
the compiled build keeps the object it returns.
"""

from __future__ import annotations

from typing import Any, Final

#: value -> its one int object
_SHARED: Final[dict[int, Any]] = {}
#: the table is cleared past this many values (days of centuries, far more than any state
#: holds at once)
LIMIT: Final = 100_000


def shared_int(value: int) -> Any:
    """The process's one int object equal to ``value``."""
    boxed = _SHARED.get(value)
    if boxed is None:
        if len(_SHARED) >= LIMIT:
            _SHARED.clear()
        _SHARED[value] = value
        # read back, not ``value``: the compiled build boxes an int anew at each use
        boxed = _SHARED[value]
    return boxed
