"""The collector's HTTP service (aiohttp): ``POST /v1/events``, ``POST /v1/web``,
``/metrics``, ``/openapi.json``, ``/tracker.js`` and ``/healthz``.

No cookie is read or set. The bearer token (``CS_COLLECT_TOKEN``) is compared in constant
time and never logged. Every request is answered from the outcome of the broker's
acknowledgement: 202 only when every accepted event was acknowledged (``acks=all``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import math
import signal
import time
from collections.abc import Awaitable, Callable
from importlib import resources

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stream_app.collect.intake import BodyError, Intake, Validator, split_body
from stream_app.collect.metrics import CODES, CollectMetrics
from stream_app.collect.openapi import openapi
from stream_app.collect.ratelimit import TokenBuckets
from stream_app.collect.settings import CollectSettings
from stream_app.collect.sink import Refused, Sink, Unavailable

log = logging.getLogger("stream_app.collect")

METRICS: web.AppKey[CollectMetrics] = web.AppKey("metrics", CollectMetrics)
SINK: web.AppKey[Sink] = web.AppKey("sink", Sink)
_ENDPOINT = {"/v1/events": "events", "/v1/web": "web"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, reason: str, detail: str, **headers: str) -> web.Response:
    body = orjson.dumps({"error": reason, "detail": detail})
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def _result(status: int, intake: Intake, accepted: int) -> web.Response:
    rejected = [{"index": r.index, "reason": r.reason, "detail": r.detail} for r in intake.rejected]
    body = orjson.dumps({"accepted": accepted, "rejected": rejected})
    return web.Response(status=status, body=body, content_type="application/json")


class Collector:
    """The handlers, over one :class:`Sink` and one :class:`CollectMetrics`."""

    def __init__(self, settings: CollectSettings, sink: Sink | None = None) -> None:
        self.settings = s = settings
        self.sink = sink or Sink(settings)
        self.metrics = CollectMetrics()
        self.any_type = Validator(s.max_message_bytes)
        self.web_types = Validator(s.max_message_bytes, roles=("web",))
        self.buckets = TokenBuckets(s.collect_rate, s.collect_burst)
        self.origins = frozenset(s.collect_origins)
        token = s.collect_token.get_secret_value() if s.collect_token else None
        self._expected = f"Bearer {token}".encode() if token else None
        self._openapi = orjson.dumps(openapi(s))
        self._tracker = resources.files("stream_app.collect").joinpath("static/tracker.js")

    def app(self) -> web.Application:
        app = web.Application(
            client_max_size=self.settings.collect_max_body_bytes,
            middlewares=[self._measure],
        )
        app[METRICS] = self.metrics
        app[SINK] = self.sink
        app.router.add_post("/v1/events", self.post_events)
        app.router.add_post("/v1/web", self.post_web)
        app.router.add_route("OPTIONS", "/v1/web", self.preflight)
        app.router.add_get("/metrics", self.get_metrics)
        app.router.add_get("/openapi.json", self.get_openapi)
        app.router.add_get("/tracker.js", self.get_tracker)
        app.router.add_get("/healthz", self.get_health)
        app.on_startup.append(self._connect)
        app.on_cleanup.append(self._flush)
        return app

    # -- life cycle --------------------------------------------------------------------
    async def _connect(self, app: web.Application) -> None:
        try:
            await self.sink.start()
        except Unavailable as exc:  # serve anyway: requests get 503 until it is back
            log.warning("collector: %s; answering 503 until it is reachable", exc)

    async def _flush(self, app: web.Application) -> None:
        await self.sink.stop()

    @web.middleware
    async def _measure(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        endpoint = _ENDPOINT.get(request.path, "other")
        started = time.perf_counter()
        try:
            with self.metrics.in_flight.track_inprogress():
                response = await handler(request)
        except web.HTTPException as exc:
            reason = "too_large" if exc.status == 413 else exc.reason.lower().replace(" ", "_")
            response = _error(exc.status, reason, exc.text or exc.reason)
        code = str(response.status)
        self.metrics.requests.labels(endpoint, code if code in CODES else "other").inc()
        self.metrics.latency.labels(endpoint).observe(time.perf_counter() - started)
        return response

    # -- the two ingest endpoints ------------------------------------------------------
    async def post_events(self, request: web.Request) -> web.Response:
        if self._cors(request) is None:  # a page of another site, posting from a browser
            return _error(403, "origin", "the Origin is not in CS_COLLECT_ORIGINS")
        if self._expected is not None:
            given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
            if not hmac.compare_digest(given, self._expected):
                response = _error(401, "unauthorized", "a bearer token is required")
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
        return await self._ingest(request, self.any_type, None)

    async def post_web(self, request: web.Request) -> web.Response:
        cors = self._cors(request)
        if cors is None:
            return _error(403, "origin", "the Origin is not in CS_COLLECT_ORIGINS")
        response = await self._ingest(request, self.web_types, self._client(request))
        response.headers.update(cors)
        return response

    async def preflight(self, request: web.Request) -> web.Response:
        cors = self._cors(request)
        if cors is None:
            return _error(403, "origin", "the Origin is not in CS_COLLECT_ORIGINS")
        cors.update(
            {
                "Access-Control-Allow-Methods": "POST",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "86400",
            }
        )
        return web.Response(status=204, headers=cors)

    def _cors(self, request: web.Request) -> dict[str, str] | None:
        """The CORS headers of an allowed request; None for a refused Origin. A request
        without Origin (not from a browser page) is allowed, with no CORS header."""
        origin = request.headers.get("Origin")
        if origin is None:
            return {}
        if origin in self.origins or "*" in self.origins:
            return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        return None

    def _client(self, request: web.Request) -> str:
        header = self.settings.collect_client_header
        if header and request.headers.get(header):
            return request.headers[header].split(",", 1)[0].strip()
        return request.remote or "unknown"

    async def _ingest(
        self, request: web.Request, validator: Validator, client: str | None
    ) -> web.Response:
        s = self.settings
        length = request.content_length
        if length is not None and length > s.collect_max_body_bytes:
            return _error(413, "too_large", f"{length} bytes > {s.collect_max_body_bytes}")
        body = await request.read()
        try:
            items = split_body(body, s.collect_max_events)
        except BodyError as exc:
            status = 413 if exc.reason == "too_many_events" else 400
            return _error(status, exc.reason, exc.detail)
        events = self.metrics.events
        if client is not None:
            wait = self.buckets.take(client, len(items))
            if wait:
                events.labels("rate_limited").inc(len(items))
                if math.isinf(wait):
                    detail = f"{len(items)} events > the burst of {s.collect_burst}"
                    return _error(413, "too_many_events", detail)
                retry = str(max(1, math.ceil(wait)))
                detail = "over the client's rate"
                return _error(429, "rate_limited", detail, **{"Retry-After": retry})
        intake = validator.check(items)
        for r in intake.rejected:
            self.metrics.rejected.labels(r.reason).inc()
        events.labels("rejected").inc(len(intake.rejected))
        if not intake.accepted:
            return _result(400, intake, 0)
        try:
            await self.sink.send(intake.accepted)
        except Refused as exc:  # over the topic's max.message.bytes: retrying cannot help
            events.labels("refused").inc(len(intake.accepted))
            return _error(413, "too_large", str(exc))
        except Unavailable as exc:
            events.labels("unavailable").inc(len(intake.accepted))
            log.warning("collector: %s", exc)
            retry = str(s.collect_retry_after_s)
            return _error(503, "unavailable", str(exc), **{"Retry-After": retry})
        events.labels("accepted").inc(len(intake.accepted))
        return _result(202, intake, len(intake.accepted))

    # -- the rest ----------------------------------------------------------------------
    async def get_metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, content_type=CONTENT_TYPE_LATEST.split(";")[0])

    async def get_openapi(self, request: web.Request) -> web.Response:
        return web.Response(body=self._openapi, content_type="application/json")

    async def get_tracker(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self._tracker.read_bytes(),
            content_type="application/javascript",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    async def get_health(self, request: web.Request) -> web.Response:
        if self.sink.connected:
            return web.json_response({"kafka": "up"})
        with contextlib.suppress(Unavailable):
            await self.sink.start()
            return web.json_response({"kafka": "up"})
        retry = str(self.settings.collect_retry_after_s)
        return web.json_response({"kafka": "down"}, status=503, headers={"Retry-After": retry})


async def serve(settings: CollectSettings, ready: Callable[[str], None] | None = None) -> None:
    """Run the collector until SIGTERM/SIGINT; then stop taking connections, let the
    requests in flight finish (their events acknowledged) and flush the producer."""
    collector = Collector(settings)
    runner = web.AppRunner(collector.app(), access_log=None, shutdown_timeout=30)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = web.TCPSite(runner, settings.collect_host, settings.collect_port)
        await site.start()
        url = f"http://{settings.collect_host}:{settings.collect_port}"
        if ready is not None:
            ready(url)
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()


def url_of(settings: CollectSettings) -> str:
    return f"http://{settings.collect_host}:{settings.collect_port}"


__all__ = ["Collector", "serve", "url_of"]
