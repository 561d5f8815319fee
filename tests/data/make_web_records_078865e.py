"""Make ``web_records_078865e.json``: key records and web exposition written by 078865e,
whose web slice is the visitor's events (``{"e": [...]}``), for the loader test of
``tests/groups/test_web_summaries.py``. Run it with that version's code first on the path:

    git archive 078865e | tar -x -C /tmp/v078865e
    cd /tmp/v078865e && PYTHONPATH=/tmp/v078865e python <this file> > web_records_078865e.json
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from stream_app.exposition import render
from stream_app.kpi.core import Outcome, PartitionCore
from stream_app.kpi.settings import KpiSettings

T = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
START = datetime(2026, 3, 9, 22, 0, tzinfo=UTC)
EVENTS: list[bytes] = []


def add(visitor: str, eid: str, kind: str, minute: int, day: int = 0, **f: Any) -> None:
    ts = (START + timedelta(days=day, minutes=minute)).isoformat()
    if kind == "page_left":
        f.setdefault("path", "/")
        f.setdefault("engaged_ms", 0)
        f.setdefault("max_scroll_pct", 0)
    if kind in ("link_shown", "link_clicked"):
        f.setdefault("link", "cta")
    body = {"event_id": eid, "type": kind, "ts": ts, "visitor_id": visitor, **f}
    EVENTS.append(orjson.dumps(body))


# v1: two sessions bridged by a late event, a click, entry/exit tie at equal ts, answers
add("v1", "a1", "page_viewed", 0, path="/")
add("v1", "a2", "page_left", 5, engaged_ms=5000, max_scroll_pct=95)
add("v1", "a3", "page_viewed", 50, path="/pricing")
add("v1", "a4", "link_clicked", 51, link="trial")
add("v1", "a0", "page_viewed", 25, path="/docs")  # late: bridges
add("v1", "b2", "page_viewed", 200, path="/b")
add("v1", "b1", "page_viewed", 200, path="/a")  # equal ts: smaller id enters
add("v1", "b3", "visit_survey_answered", 201, survey="intent", answer="buy")
add("v1", "b4", "visit_survey_answered", 202, survey="task_completion", answer="yes")
# v2: across midnight, a page_left-only session, a link_shown
add("v2", "c1", "page_viewed", 110, path="/late")
add("v2", "c2", "page_viewed", 130, path="/after-midnight")
add("v2", "c3", "link_shown", 131, link="demo")
add("v2", "c4", "page_left", 600, engaged_ms=20000, max_scroll_pct=40)
# v3: old days (dropped past the horizon) and a recent page_left
for d in range(0, 34, 3):
    add("v3", f"d{d}", "page_viewed", 60, day=d - 33, path=f"/old{d % 2}")
add("v3", "d99", "page_left", 61, day=0, engaged_ms=1000, max_scroll_pct=10)


def main() -> None:
    core = PartitionCore(KpiSettings())
    for raw in EVENTS:
        outcome, detail = core.ingest(raw)
        assert outcome is Outcome.APPLIED, detail
    records = {k: v for k, v in core.take_dirty() if v is not None}
    assert all("e" in r["g"]["web"] for r in records.values()), "not a version with events"
    lines = render([core], T).decode().splitlines()
    out = {
        "written_by": "stream-app 078865e (web slice: the events), make_web_records_078865e.py",
        "as_of": T.isoformat(),
        "records": records,
        "meta": core.meta_record(),
        "web_exposition": [x for x in lines if x.startswith(("cs_web_", "cs_visit_survey"))],
    }
    sys.stdout.write(json.dumps(out, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
