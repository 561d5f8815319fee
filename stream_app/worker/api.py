"""The worker's HTTP API (Faust web).

``GET /accounts/{account_id}``: the account's view (every KPI group's ``describe``:
status, MRR, activity, milestones, surveys, support, health and its components) as of
the wall clock. Faust table routing sends the request to the worker that owns the
account's partition: murmur2(account_id) over the partitions of the state table's
changelog, which is the account's source partition when producers use the default
(Java / aiokafka) partitioner with the account id as the key, as the contract asks.

``GET /visitors/{visitor_id}``: the web visitor's view (its sessions of the last 30 days
with entry and exit pages, page views, engaged time, clicks and whether they bounced),
routed the same way by the visitor id (the key of ``web-events``).

``GET /accounts?band=critical&limit=50``: the lowest-scoring accounts (of that band;
without ``band``, of every band except churned). The worker that receives it asks the
other workers of the table (``local=1``) and merges their answers.

Everything here takes what it reads as arguments (the Faust app, the state table, the
worker's :class:`PartitionStates`); the worker shell (``app.py``) calls
:func:`register_api`, never the reverse.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import aiohttp
import orjson
from aiokafka.partitioner import murmur2

from stream_app.kpi.groups.health.score import BANDS, CHURNED, Health
from stream_app.timeutil import utc_now

if TYPE_CHECKING:
    import faust
    from faust.types import TableT

    from stream_app.kpi.core import PartitionCore
    from stream_app.worker.state import PartitionStates

log = logging.getLogger(__name__)

MAX_ACCOUNT_ID = 128  # as in the event contract
DEFAULT_LIMIT, MAX_LIMIT = 50, 1000
LIST_BANDS = (*BANDS, CHURNED)
PEER_TIMEOUT_S = 5.0
HEALTH_GROUP = "health"  # the KPI group that ranks accounts by health


@runtime_checkable
class RanksAccounts(Protocol):
    """A KPI group that ranks its accounts (the health group)."""

    def ranking(
        self, states: Mapping[str, Any], day: int, bands: Collection[str]
    ) -> list[tuple[str, Health]]: ...


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
    found = [c for c in (cores.get(expected), *cores.values()) if c and key in c.keys[key_field]]
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


def _entry(account_id: str, health: Health, partition: int) -> dict[str, Any]:
    weakest = min(health.components.items(), key=lambda item: item[1].score, default=None)
    return {
        "account_id": account_id,
        "score": health.score,
        "band": health.band,
        "weakest_component": weakest[0] if weakest else None,
        "partition": partition,
    }


def local_ranking(
    cores: Iterable[PartitionCore], band: str | None, limit: int
) -> list[dict[str, Any]]:
    """The lowest-scoring accounts of ``cores`` (of ``band``; else of every non-churned
    band)."""
    out: list[dict[str, Any]] = []
    as_of = utc_now()
    wanted = BANDS if band is None else (band,)
    for core in cores:
        group = core.group(HEALTH_GROUP)
        if not isinstance(group, RanksAccounts):
            continue
        day = core.context(as_of).as_of_day
        for account_id, health in group.ranking(core.group_states(group), day, wanted):
            out.append(_entry(account_id, health, core.partition))
    out.sort(key=lambda e: (e["score"], e["account_id"]))
    return out[:limit]


def parse_list_query(query: Any) -> tuple[str | None, int, bool] | str:
    """(band, limit, local) from the query string, or what is wrong with it."""
    unknown = sorted(set(query) - {"band", "limit", "local"})
    if unknown:
        return f"unknown parameter(s) {', '.join(unknown)}; use band, limit"
    band = query.get("band") or None
    if band is not None and band not in LIST_BANDS:
        return f"band must be one of {', '.join(LIST_BANDS)}, not {band!r}"
    text = query.get("limit", str(DEFAULT_LIMIT))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        return f"limit must be an integer from 1 to {MAX_LIMIT}, not {text!r}"
    local = query.get("local", "0")
    if local not in ("0", "1"):
        return f"local must be 0 or 1, not {local!r}"
    return band, int(text), local == "1"


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


def register_api(app: faust.App, table: TableT, states: PartitionStates, partitions: int) -> None:
    """Add ``/accounts/{account_id}``, ``/accounts`` and ``/visitors/{visitor_id}`` to
    ``app``'s web server: keys of ``states`` (the cores of this worker), routed by the
    partitions of ``table`` (``partitions``: the partition count of the source topics)."""

    @app.table_route(table=table, match_info="account_id")
    async def owned_account(web: Any, request: Any, account_id: str) -> Any:
        served_by = str(app.conf.canonical_url)
        status, body = account_view(states, partitions, account_id, served_by)
        return _json(web, body, status)

    @app.page("/accounts/{account_id}")
    async def account(web: Any, request: Any, account_id: str) -> Any:
        if not 1 <= len(account_id) <= MAX_ACCOUNT_ID:
            detail = f"account_id must be 1-{MAX_ACCOUNT_ID} characters"
            return _error(web, 400, "bad request", detail)
        if request.query:
            return _error(web, 400, "bad request", "this endpoint takes no parameters")
        return await owned_account(web, request, account_id=account_id)  # type: ignore[call-arg]

    @app.table_route(table=table, match_info="visitor_id")
    async def owned_visitor(web: Any, request: Any, visitor_id: str) -> Any:
        served_by = str(app.conf.canonical_url)
        status, body = visitor_view(states, partitions, visitor_id, served_by)
        return _json(web, body, status)

    @app.page("/visitors/{visitor_id}")
    async def visitor(web: Any, request: Any, visitor_id: str) -> Any:
        if not 1 <= len(visitor_id) <= MAX_ACCOUNT_ID:
            detail = f"visitor_id must be 1-{MAX_ACCOUNT_ID} characters"
            return _error(web, 400, "bad request", detail)
        if request.query:
            return _error(web, 400, "bad request", "this endpoint takes no parameters")
        return await owned_visitor(web, request, visitor_id=visitor_id)  # type: ignore[call-arg]

    @app.page("/accounts")
    async def accounts(web: Any, request: Any) -> Any:
        parsed = parse_list_query(request.query)
        if isinstance(parsed, str):
            return _error(web, 400, "bad request", parsed)
        band, limit, local = parsed
        entries = local_ranking(states.owned(), band, limit)
        failed: list[str] = []
        workers = 1
        if not local:
            more, failed, workers = await _peer_rankings(app, table, request)
            entries = sorted([*entries, *more], key=lambda e: (e["score"], e["account_id"]))
        body = {
            "as_of": utc_now().isoformat(),
            "band": band,
            "limit": limit,
            "workers": workers,
            "complete": not failed,
            "unreachable": failed,
            "accounts": entries[:limit],
        }
        return _json(web, body)
