"""The tracker in a real headless Chromium (Debian's package, driven over the DevTools
protocol): a page with marked links is loaded, scrolled, a marked link clicked, the app
navigates with history.pushState, then the page is hidden. The collector must have
produced exactly the events the visit makes, and (once the web KPI group runs in the
worker) the worker's /metrics must count one visitor, one session, two page views, one
click, one impression per marked link seen and the scroll depth in its bucket."""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from stream_app.dev.broker import LocalKafka
from stream_app.kpi.registry import GROUP_CLASSES
from tests.cdp import browser, chromium_binary
from tests.collect_helpers import (
    CollectorProcess,
    make_topics,
    read_topics,
    settings_for,
    topic_env,
)
from tests.helpers import samples
from tests.worker_proc import WorkerProcess, free_port, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        chromium_binary() is None,
        reason="Debian's chromium is not installed and could not be (./dev bootstrap "
        "installs it with apt-get; no browser is ever downloaded)",
    ),
]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>shop</title>
<style>html,body{margin:0;padding:0} #app{height:4000px;position:relative}
#app > *{position:absolute;left:20px;width:240px;height:40px;margin:0}</style>
<script src="COLLECTOR/tracker.js" data-endpoint="COLLECTOR/v1/web" async></script>
</head><body><div id="app"></div>
<script>
function render() {
  var app = document.getElementById("app");
  if (location.pathname == "/next") {
    app.innerHTML = '<h1 style="top:0">next page</h1>';
  } else {
    app.innerHTML =
      '<a id="hero" data-cs-link="hero" href="#top" style="top:100px">Try it</a>' +
      '<button id="deep" data-cs-link="deep" style="top:2200px">Deep offer</button>' +
      '<a id="nav" href="/next" style="top:2300px">Next page</a>' +
      '<button data-cs-link="never" style="top:3900px">Never seen</button>';
  }
}
document.addEventListener("click", function (e) {
  var a = e.target.closest('a[href="/next"]');
  if (a) { e.preventDefault(); history.pushState({}, "", "/next"); render(); scrollTo(0, 0); }
});
addEventListener("popstate", render);
render();
</script></body></html>
"""


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, dict[str, str]]]:
    """The app's pages on 127.0.0.1 (every path serves the single-page app)."""
    html: dict[str, str] = {}  # path -> page

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path not in html:
                self.send_error(404)
                return
            body = html[self.path].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", html
    finally:
        server.shutdown()
        server.server_close()


def accepted(url: str) -> float:
    m = samples(requests.get(f"{url}/metrics", timeout=5).content)
    assert m['cs_collect_events_total{outcome="rejected"}'] == 0
    return m['cs_collect_events_total{outcome="accepted"}']


async def visit(page_url: str, collector: str) -> dict[str, Any]:
    """Load, scroll, click a marked link, navigate in the app, hide. Waits on the
    collector's count of accepted events between steps (the tracker batches for 1 s)."""

    async def until_accepted(n: int, what: str) -> None:
        async with asyncio.timeout(20):
            while await asyncio.to_thread(accepted, collector) < n:
                await asyncio.sleep(0.1)  # polling interval of a condition wait
        assert await asyncio.to_thread(accepted, collector) == n, what

    async with browser(1000, 800) as tab:
        await tab.call("Page.navigate", url=page_url)
        await tab.until("document.readyState == 'complete' && !!window.csTrack")
        seen: dict[str, Any] = {}
        await until_accepted(2, "page_viewed and link_shown(hero)")
        await tab.wheel(1600)
        await tab.until("window.scrollY == 1600")
        await until_accepted(3, "link_shown(deep) after the scroll")
        await tab.click("#deep")
        await until_accepted(4, "link_clicked(deep)")
        await tab.click("#nav")
        await tab.until("location.pathname == '/next' && window.scrollY == 0")
        await until_accepted(6, "page_left(/) and page_viewed(/next)")
        await tab.hide()
        await tab.until("document.visibilityState == 'hidden'")
        await until_accepted(7, "page_left(/next) when hidden")
        seen["visitor"] = await tab.js("localStorage.getItem('cs_vid')")
        seen["tracker_visitor"] = await tab.js("csTrack.visitor")
        return seen


@dataclass
class Visit:
    prefix: str
    page_url: str
    seen: dict[str, Any]
    keys: set[bytes | None]
    events: list[dict[str, Any]]


@pytest.fixture(scope="module")
def visit_done(
    kafka: LocalKafka,
    tmp_path_factory: pytest.TempPathFactory,
    site: tuple[str, dict[str, str]],
) -> Visit:
    """One visit in Chromium, through a real collector process, to the test's topics."""
    page_url, html = site
    prefix = f"tracker-browser-{uuid.uuid4().hex[:8]}"
    tmp = tmp_path_factory.mktemp("tracker")
    settings = settings_for(kafka.bootstrap, prefix)
    asyncio.run(make_topics(kafka.bootstrap, settings, partitions=4))
    collector = CollectorProcess(kafka.bootstrap, prefix, tmp, CS_COLLECT_ORIGINS=page_url)
    collector.start()
    html["/"] = html["/next"] = PAGE.replace("COLLECTOR", collector.url)
    try:
        wait_for(lambda: requests.get(f"{collector.url}/healthz", timeout=2).ok, 60, "collector")
        seen = asyncio.run(visit(f"{page_url}/", collector.url))
    finally:
        collector.stop()
    read = asyncio.run(read_topics(kafka.bootstrap, {"web": settings.topic_web}, at_least=7))
    events = [orjson.loads(v) for _k, v in read["web"]]
    return Visit(prefix, page_url, seen, {k for k, _v in read["web"]}, events)


def test_the_collector_produced_the_visits_events(visit_done: Visit) -> None:
    events, seen, page_url = visit_done.events, visit_done.seen, visit_done.page_url
    visitor = seen["visitor"]
    uuid4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
    assert re.fullmatch(uuid4, visitor)
    assert seen["tracker_visitor"] == visitor
    assert visit_done.keys == {visitor.encode()}  # keyed by visitor_id
    assert {e["visitor_id"] for e in events} == {visitor}
    assert len({e["event_id"] for e in events}) == len(events) == 7
    for e in events:  # RFC 3339 with an offset
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", e["ts"]), e
        assert datetime.fromisoformat(e["ts"]).utcoffset() is not None
    events = sorted(events, key=lambda e: (e["ts"], e["type"] != "page_left"))
    shape = [
        (e["type"], e.get("path"), e.get("link"), e.get("max_scroll_pct"), e.get("referrer"))
        for e in events
    ]
    assert shape[0] == ("page_viewed", "/", None, None, None)
    assert sorted(shape[1:3], key=str) == [
        ("link_shown", None, "deep", None, None),
        ("link_shown", None, "hero", None, None),
    ]  # "never" (below the deepest scroll) was not shown
    assert shape[3:] == [
        ("link_clicked", None, "deep", None, None),
        ("page_left", "/", None, 60, None),  # (1600 + 800) / 4000
        ("page_viewed", "/next", None, None, f"{page_url}/"),
        ("page_left", "/next", None, 20, None),  # not scrolled: 800 / 4000
    ]
    left = [e for e in events if e["type"] == "page_left"]
    # visible and focused (the first click focuses the window) until left
    assert all(0 < e["engaged_ms"] < 120_000 for e in left), left


@pytest.mark.skipif(
    not any(cls.key_field == "visitor_id" for cls in GROUP_CLASSES),
    reason="the web KPI group (cs_web_*) is not in the worker yet: only the collector's "
    "events of the visit are checked (test_the_collector_produced_the_visits_events)",
)
def test_the_worker_counts_the_visit(kafka: LocalKafka, visit_done: Visit, tmp_path: Path) -> None:
    worker_metrics_agree(kafka, visit_done.prefix, tmp_path, len(visit_done.events))


SMALL = """<!doctype html><html><head><meta charset="utf-8">
<script src="COLLECTOR/tracker.js" data-endpoint="COLLECTOR/v1/web" ATTRS></script>
</head><body><button data-cs-link="offer" style="height:40px">Offer</button></body></html>
"""
DNT = "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})"


def test_site_visitor_id_surveys_and_do_not_track(
    kafka: LocalKafka, tmp_path: Path, site: tuple[str, dict[str, str]]
) -> None:
    """``data-visitor-id`` names the visitor, ``csTrack.survey`` answers; with
    ``data-respect-dnt`` and Do Not Track on, a page sends nothing at all."""
    page_url, html = site
    prefix = f"tracker-dnt-{uuid.uuid4().hex[:8]}"
    settings = settings_for(kafka.bootstrap, prefix)
    asyncio.run(make_topics(kafka.bootstrap, settings))
    collector = CollectorProcess(kafka.bootstrap, prefix, tmp_path, CS_COLLECT_ORIGINS=page_url)
    collector.start()
    small = SMALL.replace("COLLECTOR", collector.url)
    html["/survey"] = small.replace("ATTRS", 'data-visitor-id="site-user-7"')
    html["/dnt"] = small.replace("ATTRS", "data-respect-dnt")
    html["/after"] = small.replace("ATTRS", "")

    async def steps() -> None:
        async def until_accepted(n: int) -> None:
            async with asyncio.timeout(20):
                while await asyncio.to_thread(accepted, collector.url) < n:
                    await asyncio.sleep(0.1)  # polling interval of a condition wait
            assert await asyncio.to_thread(accepted, collector.url) == n

        async with browser() as tab:
            await tab.call("Page.navigate", url=f"{page_url}/survey")
            await tab.until("document.readyState == 'complete' && !!window.csTrack")
            await tab.js("csTrack.survey('task_completion', 'yes')")
            await until_accepted(3)  # page_viewed, link_shown, the answer (sent at once)
            dnt = await tab.call("Page.addScriptToEvaluateOnNewDocument", source=DNT)
            await tab.call("Page.navigate", url=f"{page_url}/dnt")
            await tab.until("location.pathname == '/dnt' && !!window.csTrack")
            assert await tab.js("navigator.doNotTrack") == "1"
            assert await tab.js("csTrack.visitor === undefined")
            await tab.click("button")
            await tab.js("csTrack.survey('intent', 'buy')")
            await until_accepted(4)  # page_left of /survey; nothing of /dnt
            await tab.call("Page.removeScriptToEvaluateOnNewDocument", **dnt)
            await tab.call("Page.navigate", url=f"{page_url}/after")
            await tab.until("location.pathname == '/after' && !!window.csTrack")
            await until_accepted(6)  # /after's page_viewed and link_shown (the 1 s batch)

    try:
        wait_for(lambda: requests.get(f"{collector.url}/healthz", timeout=2).ok, 60, "collector")
        asyncio.run(steps())
    finally:
        collector.stop()
    read = asyncio.run(read_topics(kafka.bootstrap, {"web": settings.topic_web}, at_least=6))
    events = [orjson.loads(v) for _k, v in read["web"]]
    by_visitor: dict[str, list[tuple[Any, ...]]] = {}
    for e in events:
        what = (e["type"], e.get("path"), e.get("link"), e.get("survey"), e.get("answer"))
        by_visitor.setdefault(e["visitor_id"], []).append(what)
    assert sorted(by_visitor.pop("site-user-7"), key=str) == sorted(
        [
            ("page_viewed", "/survey", None, None, None),
            ("link_shown", None, "offer", None, None),
            ("visit_survey_answered", None, None, "task_completion", "yes"),
            ("page_left", "/survey", None, None, None),
        ],
        key=str,
    )
    # /after has no data-visitor-id: the UUID kept in localStorage; nothing of /dnt (no
    # click, no "intent" answer, no page view or leave)
    [(_uuid, rest)] = by_visitor.items()
    assert sorted(rest, key=str) == [
        ("link_shown", None, "offer", None, None),
        ("page_viewed", "/after", None, None, None),
    ]


def worker_metrics_agree(kafka: LocalKafka, prefix: str, tmp: Path, sent: int) -> None:
    from tests.worker_proc import handled

    worker = WorkerProcess(kafka.bootstrap, prefix, tmp, env=topic_env(prefix)).start()
    try:
        wait_for(lambda: handled(worker.metrics()) >= sent, 120, "the worker read the visit")
        m = worker.metrics()
    finally:
        worker.stop()

    def one(name: str, **labels: str) -> float:
        """The sample of ``name`` with ``labels`` (``le`` compared as a number); over
        windows the largest (today's visit is in every window)."""
        per_window: dict[str, float] = {}
        for key, value in m.items():
            base, _, rest = key.partition("{")
            got = dict(re.findall(r'(\w+)="([^"]*)"', rest))
            if base != name:
                continue
            if any(
                (float(got.get(k, "nan")) != float(v)) if k == "le" else got.get(k) != v
                for k, v in labels.items()
            ):
                continue
            window = got.get("window", "")
            per_window[window] = per_window.get(window, 0.0) + value
        assert per_window, f"{name}{labels} not exported"
        return max(per_window.values())

    assert one("cs_web_visitors", window="1d") == 1
    assert one("cs_web_sessions", window="1d") == 1
    assert one("cs_web_pageviews", window="1d") == 2  # "/" and "/next"
    assert one("cs_web_pageviews", path="/next") == 1
    assert one("cs_web_link_clicks", link="deep") == 1
    assert one("cs_web_link_impressions", link="hero") == 1
    assert one("cs_web_link_impressions", link="deep") == 1
    assert one("cs_web_link_impressions") == 2  # "never" was not shown
    # max_scroll_pct 60 and 20: one at or under 25, both at or under 75, none in (25, 50]
    assert one("cs_web_scroll_depth_percent_bucket", le="25") == 1
    assert one("cs_web_scroll_depth_percent_bucket", le="50") == 1
    assert one("cs_web_scroll_depth_percent_bucket", le="75") == 2
