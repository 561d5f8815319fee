"""The live KPI table of ``stream-app run``: the headline figures of every KPI group, read
from the worker's /metrics (parsed with ``prometheus_client``'s own parser).

:func:`kpi_rows` turns one scrape into rows (section, KPI, value, note); the same rows
are drawn as a ``rich`` table redrawn in place on a terminal (:meth:`LiveView.table`) or
as plain lines when the output is piped (:meth:`LiveView.lines`). Ratios are computed
here the way the recording rules compute them (``prometheus/rules/<group>.yml``).
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from rich.table import Table

Labels = dict[str, str]


def scrape_text(url: str, timeout: float = 2.0) -> str:
    """The Prometheus text page at ``url``."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return str(resp.read().decode())


class Scrape:
    """One parsed scrape: sample name -> [(labels, value)]."""

    def __init__(self, text: str) -> None:
        self.samples: dict[str, list[tuple[Labels, float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                self.samples.setdefault(sample.name, []).append(
                    (dict(sample.labels), float(sample.value))
                )

    def has(self, name: str) -> bool:
        return name in self.samples

    def total(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` whose labels include ``labels``."""
        return sum(
            value
            for got, value in self.samples.get(name, ())
            if all(got.get(k) == v for k, v in labels.items())
        )

    def by(self, name: str, label: str, **labels: str) -> dict[str, float]:
        """Sums of ``name`` per value of ``label``."""
        out: dict[str, float] = {}
        for got, value in self.samples.get(name, ()):
            if all(got.get(k) == v for k, v in labels.items()) and label in got:
                out[got[label]] = out.get(got[label], 0.0) + value
        return out

    def flat(self) -> dict[str, float]:
        """``name{labels}`` -> value (labels in exposition order)."""
        out: dict[str, float] = {}
        for name, samples in self.samples.items():
            for labels, value in samples:
                body = ",".join(f'{k}="{v}"' for k, v in labels.items())
                out[f"{name}{{{body}}}" if body else name] = value
        return out


def scrape(url: str, timeout: float = 2.0) -> dict[str, float]:
    """``name{labels}`` -> value of the Prometheus page at ``url``."""
    return Scrape(scrape_text(url, timeout)).flat()


@dataclass(frozen=True)
class Row:
    section: str
    kpi: str
    value: str
    note: str = ""


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _pct(num: float, den: float) -> str:
    return f"{100 * num / den:.1f} %" if den else "–"


def _money(value: float, currency: str) -> str:
    return f"{value:,.0f} {currency}"


def _pipeline(s: Scrape, rate: float) -> list[Row]:
    accepted = s.total("cs_events_total")
    rejected = s.by("cs_events_rejected_total", "reason")
    top = ", ".join(f"{r} {_n(v)}" for r, v in sorted(rejected.items(), key=lambda i: -i[1]) if v)
    rows = [
        Row("pipeline", "events accepted", _n(accepted), f"{rate:,.0f}/s"),
        Row("pipeline", "rejected", _n(sum(rejected.values())), top[:60]),
        Row("pipeline", "duplicates", _n(s.total("cs_events_duplicate_total"))),
    ]
    if s.has("stream_app_consumer_lag"):
        rows.append(Row("pipeline", "consumer lag", _n(s.total("stream_app_consumer_lag"))))
    return rows


def _usage(s: Scrape, rate: float) -> list[Row]:
    dau = s.total("cs_active_users", window="1d")
    wau = s.total("cs_active_users", window="7d")
    mau = s.total("cs_active_users", window="30d")
    features = sorted(
        s.by("cs_feature_users", "feature", window="30d").items(), key=lambda i: -i[1]
    )
    top = ", ".join(f"{name} {_pct(v, mau)}" for name, v in features[:3])
    day_users = s.total("cs_user_active_days_gsum")  # the 30 complete days' DAU, summed
    month_users = s.total("cs_user_active_days_gcount")  # their MAU
    return [
        Row("usage", "DAU / WAU / MAU", f"{_n(dau)} / {_n(wau)} / {_n(mau)}"),
        Row(
            "usage",
            "stickiness DAU/MAU",
            _pct(dau, mau),
            f"today so far; WAU/MAU {_pct(wau, mau)}",
        ),
        Row(
            "usage",
            "stickiness, 30 days",
            _pct(day_users / 30, month_users),
            "average DAU/MAU of the 30 complete days (compare with benchmarks)",
        ),
        Row("usage", "top features (30d)", "", top),
    ]


def _onboarding(s: Scrape, rate: float) -> list[Row]:
    new = s.total("cs_new_accounts", window="30d")
    activated = s.total("cs_activated_accounts", window="30d")
    return [
        Row(
            "onboarding",
            "activation (30d signups)",
            _pct(activated, new),
            f"{_n(activated)} of {_n(new)} new accounts",
        ),
        Row(
            "onboarding",
            "adopted accounts (30d)",
            _n(s.total("cs_adopted_accounts", window="30d")),
            f"of {_n(s.total('cs_onboarded_accounts'))} onboarded",
        ),
    ]


def _revenue(s: Scrape, rate: float) -> list[Row]:
    rows: list[Row] = []
    status = s.by("cs_accounts", "status")
    rows.append(
        Row(
            "revenue",
            "accounts",
            _n(sum(status.values())),
            " · ".join(f"{k} {_n(v)}" for k, v in sorted(status.items())),
        )
    )
    for currency, mrr in sorted(s.by("cs_mrr", "currency").items()):
        moves = s.by("cs_mrr_movements", "kind", currency=currency, window="30d")
        start = s.total("cs_mrr_period_start", currency=currency, window="30d")
        net = moves.get("churn", 0) + moves.get("contraction", 0)
        net -= moves.get("expansion", 0) + moves.get("reactivation", 0)
        rows.append(
            Row("revenue", "MRR", _money(mrr, currency), f"30d ago {_money(start, currency)}")
        )
        rows.append(
            Row(
                "revenue",
                "MRR movements (30d)",
                "",
                " ".join(
                    f"{k} {'+' if k in ('new', 'expansion', 'reactivation') else '-'}{_n(v)}"
                    for k, v in moves.items()
                ),
            )
        )
        rows.append(Row("revenue", "net MRR churn (30d)", _pct(net, start)))
    churned = s.total("cs_churned_accounts", window="30d")
    base = s.total("cs_paying_accounts_period_start", window="30d")
    rows.append(
        Row(
            "revenue",
            "customer churn (30d)",
            _pct(churned, base),
            f"{_n(churned)} of {_n(base)} paying 30d ago",
        )
    )
    return rows


def _voice(s: Scrape, rate: float) -> list[Row]:
    nps = s.by("cs_survey_responses", "score", survey="nps", window="90d")
    csat = s.by("cs_survey_responses", "score", survey="csat", window="90d")
    n_nps, n_csat = sum(nps.values()), sum(csat.values())
    promoters = sum(v for k, v in nps.items() if int(k) >= 9)
    detractors = sum(v for k, v in nps.items() if int(k) <= 6)
    satisfied = sum(v for k, v in csat.items() if int(k) >= 4)
    score = f"{100 * (promoters - detractors) / n_nps:+.0f}" if n_nps else "–"
    opened = s.total("cs_tickets_opened", window="30d")
    resolved = s.total("cs_tickets_resolved", window="30d")
    first = s.total("cs_tickets_resolved_first_contact", window="30d")
    return [
        Row("voice & support", "NPS (90d)", score, f"{_n(n_nps)} answers"),
        Row("voice & support", "CSAT (90d)", _pct(satisfied, n_csat), f"{_n(n_csat)} answers"),
        Row(
            "voice & support",
            "tickets opened (30d)",
            _n(opened),
            f"first-contact resolution {_pct(first, resolved)}",
        ),
    ]


def _health(s: Scrape, rate: float) -> list[Row]:
    bands = s.by("cs_accounts_by_health", "band")
    total = sum(bands.values())
    return [
        Row(
            "health",
            f"accounts {band.replace('_', ' ')}",
            _n(bands.get(band, 0)),
            _pct(bands.get(band, 0), total),
        )
        for band in ("healthy", "at_risk", "critical")
    ]


# -- rows of the groups being added (issues 14 and 16): each row shows only when its
# -- metric family is in the scrape; replace them with the groups' own figures once merged
def _web(s: Scrape, rate: float) -> list[Row]:
    rows: list[Row] = []
    if s.has("cs_web_visitors"):
        rows.append(
            Row(
                "web",
                "visitors 1d / 30d",
                f"{_n(s.total('cs_web_visitors', window='1d'))}"
                f" / {_n(s.total('cs_web_visitors', window='30d'))}",
            )
        )
    if s.has("cs_web_sessions"):
        sessions = s.total("cs_web_sessions", window="30d")
        note = ""
        if s.has("cs_web_bounced_sessions"):
            note = f"bounce rate {_pct(s.total('cs_web_bounced_sessions', window='30d'), sessions)}"
        rows.append(Row("web", "sessions (30d)", _n(sessions), note))
    if s.has("cs_web_pageviews"):
        rows.append(Row("web", "page views (30d)", _n(s.total("cs_web_pageviews", window="30d"))))
    return rows


def _commerce(s: Scrape, rate: float) -> list[Row]:
    rows: list[Row] = []
    if s.has("cs_orders"):
        rows.append(Row("commerce", "orders (30d)", _n(s.total("cs_orders", window="30d"))))
    if s.has("cs_sales"):
        for currency, value in sorted(s.by("cs_sales", "currency", window="30d").items()):
            rows.append(Row("commerce", "sales (30d)", _money(value, currency)))
    if s.has("cs_checkouts_abandoned") and s.has("cs_checkouts_judged"):
        rows.append(
            Row(
                "commerce",
                "cart abandonment (30d)",
                _pct(
                    s.total("cs_checkouts_abandoned", window="30d"),
                    s.total("cs_checkouts_judged", window="30d"),
                ),
            )
        )
    return rows


SECTIONS: tuple[Callable[[Scrape, float], list[Row]], ...] = (
    _pipeline,
    _usage,
    _onboarding,
    _revenue,
    _voice,
    _health,
    _web,
    _commerce,
)


def kpi_rows(s: Scrape, rate: float = 0.0) -> list[Row]:
    """The headline KPIs of every group present in the scrape."""
    return [row for section in SECTIONS for row in section(s, rate)]


@dataclass
class FeedStatus:
    """What the demo's producer has done so far (written by the feed, read by the view)."""

    history_days: int
    loaded_days: float = 0.0  # days of history produced so far
    history_sent: int = 0
    live_sent: int = 0
    live: bool = False  # the history is loaded, live traffic runs
    speed: float = 1.0

    def line(self, handled: float) -> str:
        if not self.live:
            share = self.loaded_days / self.history_days if self.history_days else 1.0
            return (
                f"loading history: {share:6.1%} of {self.history_days} days, "
                f"{self.history_sent:,} events sent, {handled:,.0f} handled by the worker "
                "(30-day figures fill in as the days arrive)"
            )
        return (
            f"live: the company runs {self.speed:g}x faster than the clock "
            f"(a simulated day every {86400 / self.speed / 60:.0f} min), "
            f"{self.live_sent:,} live events sent"
        )


@dataclass
class LiveView:
    """Turns successive scrapes into a table (terminal) or lines (pipe)."""

    header: str
    feed: FeedStatus | None = None
    clock: Callable[[], float] = time.monotonic
    _last: tuple[float, float] | None = field(default=None)

    def rows(self, s: Scrape) -> tuple[list[Row], float]:
        now = self.clock()
        accepted = s.total("cs_events_total")
        rate = 0.0
        if self._last is not None and now > self._last[0]:
            rate = (accepted - self._last[1]) / (now - self._last[0])
        self._last = (now, accepted)
        handled = accepted + s.total("cs_events_rejected_total")
        handled += s.total("cs_events_duplicate_total")
        return kpi_rows(s, rate), handled

    def status(self, handled: float) -> str:
        return self.feed.line(handled) if self.feed is not None else ""

    def lines(self, s: Scrape) -> str:
        """Plain text: a time-stamped block of ``section  kpi  value  note`` lines."""
        rows, handled = self.rows(s)
        out = [f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {self.header}"]
        if self.feed is not None:
            out.append(self.status(handled))
        out += [f"{r.section:<16} {r.kpi:<26} {r.value:>20}  {r.note}".rstrip() for r in rows]
        return "\n".join(out)

    def table(self, s: Scrape) -> Table:
        """A ``rich`` table of the rows, one block per section."""
        from rich.table import Table

        rows, handled = self.rows(s)
        table = Table(
            title=self.header,
            caption=self.status(handled) + "  ·  Ctrl-C stops everything",
            expand=False,
        )
        table.add_column("group", style="bold cyan")
        table.add_column("KPI")
        table.add_column("value", justify="right", style="bold")
        table.add_column("", style="dim")
        previous = None
        for r in rows:
            if previous is not None and r.section != previous:
                table.add_section()
            table.add_row(r.section if r.section != previous else "", r.kpi, r.value, r.note)
            previous = r.section
        return table
