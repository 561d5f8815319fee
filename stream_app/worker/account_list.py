"""``GET /accounts``: the account list customer-success people work from.

Each row is the merged per-account summary of every KPI group
(:meth:`stream_app.kpi.core.PartitionCore.summaries`): name, status, MRR, health score and
band, the weakest components, last active day, open tickets. The list filters by status,
band and minimum MRR, sorts by score (lowest first) or by MRR at risk (highest first),
and leaves out churned accounts and idle trials (no activity for
:data:`IDLE_TRIAL_DAYS` days) unless asked (``include=churned,idle_trials``, or a status
or band filter naming churned). Plain functions over cores, no Faust: the worker shell
(:mod:`stream_app.worker.api`) serves them and merges the answers of its peers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from stream_app.kpi.groups.health.score import BANDS, CHURNED

if TYPE_CHECKING:
    from stream_app.kpi.core import PartitionCore

DEFAULT_LIMIT, MAX_LIMIT = 50, 1000
LIST_BANDS = (*BANDS, CHURNED)
STATUSES = ("trial", "paying", "churned")
#: bands whose MRR counts as at risk
RISKY_BANDS = ("at_risk", "critical")
#: a trial with no product activity for this many days is idle (left out by default)
IDLE_TRIAL_DAYS = 14
SORTS = ("score", "mrr_at_risk")
INCLUDES = ("churned", "idle_trials")
PARAMETERS = ("status", "band", "min_mrr", "sort", "include", "limit", "local")


@dataclass(frozen=True)
class ListQuery:
    statuses: frozenset[str] | None = None  # None: any
    bands: frozenset[str] | None = None  # None: any
    min_mrr: float = 0.0
    sort: str = "score"
    include: frozenset[str] = frozenset()
    limit: int = DEFAULT_LIMIT
    local: bool = False

    def echo(self) -> dict[str, Any]:
        """The query as the response states it."""
        return {
            "status": sorted(self.statuses) if self.statuses else None,
            "band": sorted(self.bands) if self.bands else None,
            "min_mrr": self.min_mrr,
            "sort": self.sort,
            "include": sorted(self.include),
            "limit": self.limit,
        }


def _choices(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> frozenset[str] | str:
    values = [v for v in query.get(name, "").split(",") if v]
    wrong = [v for v in values if v not in allowed]
    if wrong:
        choices = ", ".join(allowed)
        return f"{name} must be one or more of {choices} (comma-separated), not {wrong[0]!r}"
    return frozenset(values)


def parse_list_query(query: Mapping[str, str]) -> ListQuery | str:
    """The :class:`ListQuery` of a query string, or what is wrong with it (one line)."""
    unknown = sorted(set(query) - set(PARAMETERS))
    if unknown:
        return f"unknown parameter(s) {', '.join(unknown)}; use {', '.join(PARAMETERS[:-1])}"
    statuses = _choices(query, "status", STATUSES)
    bands = _choices(query, "band", LIST_BANDS)
    include = _choices(query, "include", INCLUDES)
    for parsed in (statuses, bands, include):
        if isinstance(parsed, str):
            return parsed
    assert not isinstance(statuses, str) and not isinstance(bands, str)
    assert not isinstance(include, str)
    text = query.get("min_mrr", "0")
    try:
        min_mrr = float(text)
    except ValueError:
        min_mrr = -1.0
    if not 0 <= min_mrr < float("inf"):
        return f"min_mrr must be a number >= 0, not {text!r}"
    sort = query.get("sort", "score")
    if sort not in SORTS:
        return f"sort must be one of {', '.join(SORTS)}, not {sort!r}"
    text = query.get("limit", str(DEFAULT_LIMIT))
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        return f"limit must be an integer from 1 to {MAX_LIMIT}, not {text!r}"
    local = query.get("local", "0")
    if local not in ("0", "1"):
        return f"local must be 0 or 1, not {local!r}"
    return ListQuery(
        statuses=statuses or None,
        bands=bands or None,
        min_mrr=min_mrr,
        sort=sort,
        include=include,
        limit=int(text),
        local=local == "1",
    )


def is_idle_trial(row: Mapping[str, Any]) -> bool:
    """A trial without product activity for :data:`IDLE_TRIAL_DAYS` days (or ever)."""
    if row.get("status") != "trial":
        return False
    days = row.get("days_since_activity")
    return days is None or days >= IDLE_TRIAL_DAYS


def wanted(row: Mapping[str, Any], q: ListQuery) -> bool:
    """Whether an account's summary row belongs in the list of ``q``."""
    band, status = row.get("band"), row.get("status")
    if band is None:
        return False  # no health data at all: nothing to rank it by
    if q.bands is not None and band not in q.bands:
        return False
    if q.statuses is not None and status not in q.statuses:
        return False
    churned = band == CHURNED or status == "churned"
    asked_churned = (
        "churned" in q.include
        or (q.bands is not None and CHURNED in q.bands)
        or (q.statuses is not None and "churned" in q.statuses)
    )
    if churned and not asked_churned:
        return False
    if "idle_trials" not in q.include and is_idle_trial(row):
        return False
    return float(row.get("mrr") or 0.0) >= q.min_mrr


def entry(account_id: str, row: Mapping[str, Any], partition: int) -> dict[str, Any]:
    """One list entry: the summary row, the MRR at risk and where it was read."""
    mrr = float(row.get("mrr") or 0.0)
    weakest = row.get("weakest_components") or []
    return {
        "account_id": account_id,
        "name": row.get("name"),
        "status": row.get("status"),
        "mrr": mrr,
        "currency": row.get("currency"),
        "mrr_at_risk": mrr if row.get("band") in RISKY_BANDS else 0.0,
        "score": row.get("score"),
        "band": row.get("band"),
        "weakest_component": weakest[0]["component"] if weakest else None,
        "weakest_components": weakest,
        "last_active_day": row.get("last_active_day"),
        "days_since_activity": row.get("days_since_activity"),
        "open_tickets": row.get("open_tickets", 0),
        "partition": partition,
    }


def sort_key(sort: str) -> Any:
    """The order of ``sort``: score ascending (no score last), or MRR at risk descending
    then score; ties by account id, so merged lists of several workers agree."""
    if sort == "mrr_at_risk":
        return lambda e: (-e["mrr_at_risk"], _score(e), e["account_id"])
    return lambda e: (_score(e), e["account_id"])


def _score(e: Mapping[str, Any]) -> float:
    score = e.get("score")
    return float("inf") if score is None else float(score)


def list_accounts(
    cores: Iterable[PartitionCore], q: ListQuery, as_of: datetime
) -> list[dict[str, Any]]:
    """The first ``q.limit`` entries of ``cores``' accounts for ``q``, in its order."""
    out = [
        entry(account_id, row, core.partition)
        for core in cores
        for account_id, row in core.summaries(as_of)
        if wanted(row, q)
    ]
    out.sort(key=sort_key(q.sort))
    return out[: q.limit]


def merge(lists: Iterable[list[dict[str, Any]]], q: ListQuery) -> list[dict[str, Any]]:
    """Several workers' lists as one."""
    merged = [e for entries in lists for e in entries]
    merged.sort(key=sort_key(q.sort))
    return merged[: q.limit]
