"""The worker's HTTP API (Faust web).

``GET /accounts/{account_id}``: the account's view (every KPI group's ``describe``:
status, MRR, activity, milestones, surveys, support, health and its components) as of
the wall clock. Faust table routing sends the request to the worker that owns the
account's partition: murmur2(account_id) over the partitions of the state table's
changelog, which is the account's contract partition whatever the producers' partitioner:
the worker forwards messages another partitioner put elsewhere to that partition
(:mod:`stream_app.worker.routing`), and refuses to run when the changelog and the source
topics differ in partition count (:mod:`stream_app.worker.partitions`).

``GET /accounts?status=paying&band=critical&min_mrr=100&sort=mrr_at_risk&limit=50``: the
account list (:mod:`stream_app.worker.account_list`: name, status, MRR, score and band,
weakest components, last active day, open tickets; churned accounts and idle trials only
when asked). The worker that receives it asks the other workers of the table
(``local=1``) and merges their answers.

``GET /visitors/{visitor_id}``: the web visitor's view (its sessions of the last 30 days
with entry and exit pages, page views, engaged time, clicks and whether they bounced),
routed the same way by the visitor id (the key of ``web-events``).

Everything here takes what it reads as arguments (the Faust app, the state table, the
worker's :class:`PartitionStates`); the worker shell (``app.py``) calls
:func:`register_api`, never the reverse.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiokafka.partitioner import murmur2

from stream_app.timeutil import utc_now
from stream_app.worker.account_list import ListQuery, list_accounts, merge, parse_list_query

if TYPE_CHECKING:
    import faust
    from faust.types import TableT

    from stream_app.worker.state import PartitionStates

log = logging.getLogger(__name__)

MAX_ACCOUNT_ID = 128  # as in the event contract
PEER_TIMEOUT_S = 5.0


def _json(web: Any, body: dict[str, Any], status: int = 200) -> Any:
    return web.bytes(orjson.dumps(body), content_type="application/json", status=status)


def _error(web: Any, status: int, error: str, detail: str) -> Any:
    return _json(web, {"error": error, "detail": detail}, status)


def source_partition(account_id: str, partitions: int) -> int:
    """The partition the default partitioner gives a message keyed by ``account_id``."""
    return (murmur2(account_id.encode()) & 0x7FFFFFFF) % partitions


def key_view(
    states: PartitionStates, partitions: int, key_field: str, key: str, served_by: str
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of the view of ``key`` (a value of ``key_field``: an account or
    a visitor) on the worker owning it (``partitions``: of the source topics;
    ``served_by``: this worker's URL)."""
    noun = key_field.removesuffix("_id")
    expected = source_partition(key, partitions)
    cores = states.cores
    found = [c for c in (cores.get(expected), *cores.values()) if c and c.holds(key_field, key)]
    as_of = utc_now()
    view = found[0].describe_key(key_field, key, as_of) if found else None
    if view is None:
        if expected not in cores:
            detail = f"partition {expected} is not loaded on this worker (rebalancing?)"
            return 503, {"error": "unavailable", "detail": detail}
        detail = f"no accepted event of {noun} {key!r} (partition {expected})"
        return 404, {"error": f"unknown {noun}", "detail": detail}
    core = found[0]
    return 200, {
        key_field: key,
        "as_of": as_of.isoformat(),
        "partition": core.partition,
        "served_by": served_by,
        **view,
    }


def account_view(
    states: PartitionStates, partitions: int, account_id: str, served_by: str
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of ``GET /accounts/{account_id}`` on the worker owning it."""
    return key_view(states, partitions, "account_id", account_id, served_by)


def visitor_view(
    states: PartitionStates, partitions: int, visitor_id: str, served_by: str
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of ``GET /visitors/{visitor_id}`` on the worker owning it."""
    return key_view(states, partitions, "visitor_id", visitor_id, served_by)


async def _peer_rankings(
    app: faust.App, table: TableT, request: Any
) -> tuple[list[dict[str, Any]], list[str], int]:
    """Rankings of the other workers of ``table``: (entries, unreachable workers, workers)."""
    me = str(app.conf.canonical_url).rstrip("/")
    peers = [
        str(url).rstrip("/")
        for url, topics in app.router.table_metadata(table.name).items()
        if any(topics.values())
    ]
    others = [p for p in peers if p != me]
    query = {**request.query, "local": "1"}
    timeout = aiohttp.ClientTimeout(total=PEER_TIMEOUT_S)

    async def fetch(peer: str) -> list[dict[str, Any]]:
        async with app.http_client.get(f"{peer}/accounts", params=query, timeout=timeout) as resp:
            resp.raise_for_status()
            body = orjson.loads(await resp.read())
            return list(body["accounts"])

    results = await asyncio.gather(*(fetch(p) for p in others), return_exceptions=True)
    entries: list[dict[str, Any]] = []
    failed: list[str] = []
    for peer, result in zip(others, results, strict=True):
        if isinstance(result, BaseException):
            log.warning("GET /accounts: worker %s did not answer: %r", peer, result)
            failed.append(peer)
        else:
            entries.extend(result)
    return entries, failed, len(set(peers) | {me})


KeyView = Callable[["PartitionStates", int, str, str], tuple[int, dict[str, Any]]]


def _key_route(
    app: faust.App,
    table: TableT,
    states: PartitionStates,
    partitions: int,
    key_field: str,
    path: str,
    view: KeyView,
) -> None:
    """``GET <path>/{<key_field>}``: ``view`` of the key on the worker owning its partition
    (Faust table routing by the key's partition)."""

    @app.table_route(table=table, match_info=key_field)
    async def owned(web: Any, request: Any, **match: str) -> Any:
        served_by = str(app.conf.canonical_url)
        status, body = view(states, partitions, match[key_field], served_by)
        return _json(web, body, status)

    @app.page(f"{path}/{{{key_field}}}", name=f"{key_field}-view")
    async def one(web: Any, request: Any, **match: str) -> Any:
        key = match[key_field]
        if not 1 <= len(key) <= MAX_ACCOUNT_ID:
            detail = f"{key_field} must be 1-{MAX_ACCOUNT_ID} characters"
            return _error(web, 400, "bad request", detail)
        if request.query:
            return _error(web, 400, "bad request", "this endpoint takes no parameters")
        return await owned(web, request, **{key_field: key})


def register_api(app: faust.App, table: TableT, states: PartitionStates, partitions: int) -> None:
    """Add ``/accounts/{account_id}``, ``/accounts`` and ``/visitors/{visitor_id}`` to
    ``app``'s web server: keys of ``states`` (the cores of this worker), routed by the
    partitions of ``table`` (``partitions``: the partition count of the source topics)."""

    for key_field, path, view in (
        ("account_id", "/accounts", account_view),
        ("visitor_id", "/visitors", visitor_view),
    ):
        _key_route(app, table, states, partitions, key_field, path, view)

    @app.page("/accounts")
    async def accounts(web: Any, request: Any) -> Any:
        query: ListQuery | str = parse_list_query(request.query)
        if isinstance(query, str):
            return _error(web, 400, "bad request", query)
        as_of = utc_now()
        entries = list_accounts(states.owned(), query, as_of)
        failed: list[str] = []
        workers = 1
        if not query.local:
            more, failed, workers = await _peer_rankings(app, table, request)
            entries = merge([entries, more], query)
        body = {
            "as_of": as_of.isoformat(),
            **query.echo(),
            "workers": workers,
            "complete": not failed,
            "unreachable": failed,
            "accounts": entries,
        }
        return _json(web, body)
