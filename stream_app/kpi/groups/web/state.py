"""Per-visitor state of the web group, and its compact stored form.

Persisted: the visitor's web events of the last ``longest window + gap`` days (sorted by
time, :mod:`stream_app.kpi.groups.web.sessions`). Derived (rebuilt on load): the
sessions, the latest day, the last page-view day, and ``dirty_from`` (the earliest time
added since the sessions were last built).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stream_app.kpi.groups.web.sessions import PAGE_VIEWED, Session, WebEvent

#: ``dirty_from`` when the sessions are up to date
CLEAN = 2**63


@dataclass(slots=True)
class WebState:
    events: list[WebEvent] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    #: calendar day of the latest event (None: no event yet)
    latest_day: int | None = None
    #: calendar day of the latest page_viewed (the "unique visitors" day count)
    pv_day: int | None = None
    #: sessions must be rebuilt from this time on (CLEAN: they are up to date)
    dirty_from: int = CLEAN


def dump_events(events: list[WebEvent]) -> list[list[Any]]:
    """``[us, code, a, b]`` per event, ``[us, 0, path, event_id]`` for a page view."""
    out: list[list[Any]] = []
    for us, code, eid, a, b in events:
        if code == PAGE_VIEWED:
            out.append([us, code, a, eid])
        elif b is None:
            out.append([us, code, a])
        else:
            out.append([us, code, a, b])
    return out


def load_events(raw: list[list[Any]]) -> list[WebEvent]:
    """Inverse of :func:`dump_events` (sorted again, whatever the stored order)."""
    out: list[WebEvent] = []
    for item in raw:
        us, code, a = int(item[0]), int(item[1]), item[2]
        if code == PAGE_VIEWED:
            out.append((us, code, str(item[3]), a, None))
        else:
            out.append((us, code, "", a, item[3] if len(item) > 3 else None))
    out.sort()
    return out
