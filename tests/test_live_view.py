"""The live table of ``stream-app run`` rendered from a recorded scrape
(``tests/data/worker_scrape.prom``: ``stream-app replay`` of 300 generated accounts over
120 days), as plain lines and as a rich table."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from stream_app.dev.live_view import FeedStatus, LiveView, Scrape, kpi_rows

RECORDED = (Path(__file__).parent / "data" / "worker_scrape.prom").read_text()

# the figures of the recorded scrape, computed by hand from its samples
EXPECTED = {
    ("pipeline", "events accepted"): "145,703",
    ("usage", "DAU / WAU / MAU"): "121 / 634 / 856",
    ("usage", "stickiness DAU/MAU"): "14.1 %",
    ("onboarding", "activation (30d signups)"): "100.0 %",
    ("revenue", "MRR"): "41,854 USD",
    ("revenue", "customer churn (30d)"): "3.2 %",  # 6 / 187
    ("revenue", "net MRR churn (30d)"): "2.2 %",  # (1344 + 150 - 600 - 0) / 39763
    ("voice & support", "NPS (90d)"): "+36",
    ("voice & support", "CSAT (90d)"): "82.5 %",
    ("health", "accounts critical"): "51",
}

WEB_AND_COMMERCE = """\
# TYPE cs_web_visitors gauge
cs_web_visitors{window="1d"} 40
cs_web_visitors{window="30d"} 900
# TYPE cs_web_sessions gauge
cs_web_sessions{window="30d"} 1200
# TYPE cs_web_bounced_sessions gauge
cs_web_bounced_sessions{window="30d"} 300
# TYPE cs_orders gauge
cs_orders{window="30d"} 75
# TYPE cs_checkouts_abandoned gauge
cs_checkouts_abandoned{window="30d"} 20
# TYPE cs_checkouts_judged gauge
cs_checkouts_judged{window="30d"} 80
"""


def test_rows_show_the_headline_kpi_of_every_group() -> None:
    rows = {(r.section, r.kpi): r for r in kpi_rows(Scrape(RECORDED))}
    for key, value in EXPECTED.items():
        assert rows[key].value == value, (key, rows[key])
    assert rows[("revenue", "customer churn (30d)")].note == "6 of 187 paying 30d ago"
    movements = rows[("revenue", "MRR movements (30d)")].note
    assert "new +2,985" in movements and "churn -1,344" in movements
    assert {s for s, _ in rows} == {
        "pipeline",
        "usage",
        "onboarding",
        "revenue",
        "voice & support",
        "health",
    }


def test_web_and_commerce_rows_show_only_when_their_metrics_exist() -> None:
    without = {r.section for r in kpi_rows(Scrape(RECORDED))}
    assert "web" not in without and "commerce" not in without
    rows = {(r.section, r.kpi): r for r in kpi_rows(Scrape(RECORDED + WEB_AND_COMMERCE))}
    assert rows[("web", "visitors 1d / 30d")].value == "40 / 900"
    assert rows[("web", "sessions (30d)")].note == "bounce rate 25.0 %"
    assert rows[("commerce", "orders (30d)")].value == "75"
    assert rows[("commerce", "cart abandonment (30d)")].value == "25.0 %"


def test_plain_lines_for_a_pipe() -> None:
    ticks = iter([0.0, 2.0])
    view = LiveView("stream-app live", FeedStatus(history_days=120), clock=lambda: next(ticks))
    view.lines(Scrape(RECORDED.replace("cs_events_total", "cs_events_unrelated")))
    text = view.lines(Scrape(RECORDED))
    assert "\x1b" not in text and "\r" not in text
    assert "loading history:" in text and "of 120 days" in text
    accepted = next(line for line in text.splitlines() if "events accepted" in line)
    assert accepted.split() == ["pipeline", "events", "accepted", "145,703", "72,852/s"]


@pytest.mark.parametrize("live", [False, True])
def test_rich_table_and_its_status_line(live: bool) -> None:
    status = FeedStatus(history_days=120, loaded_days=60, history_sent=5000, live=live, speed=360)
    console = Console(width=140, record=True, color_system=None)
    console.print(LiveView("stream-app live", status).table(Scrape(RECORDED)))
    text = console.export_text()
    assert "41,854 USD" in text and "customer churn (30d)" in text
    if live:
        assert "360x faster than the clock" in text and "every 4 min" in text
    else:
        assert "50.0% of 120 days" in text
