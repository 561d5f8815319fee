"""The compact live KPI table of ``stream-app run`` (reads the worker's /metrics)."""

from __future__ import annotations

import time
import urllib.request
from dataclasses import dataclass, field


def scrape(url: str, timeout: float = 2.0) -> dict[str, float]:
    """``name{labels}`` -> value of a Prometheus text page (comments dropped)."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                continue
    return out


def _sum(s: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in s.items() if k == prefix or k.startswith(prefix + "{"))


def _pct(num: float, den: float) -> str:
    return f"{100 * num / den:5.1f}%" if den else "    -"


@dataclass
class LiveView:
    """Turns successive scrapes into a few lines of text."""

    header: str
    _last: tuple[float, float] | None = field(default=None)

    def render(self, s: dict[str, float]) -> str:
        now = time.monotonic()
        accepted = _sum(s, "cs_events_total")
        rate = 0.0
        if self._last is not None and now > self._last[0]:
            rate = (accepted - self._last[1]) / (now - self._last[0])
        self._last = (now, accepted)
        dau = s.get('cs_active_users{window="1d"}', 0.0)
        wau = s.get('cs_active_users{window="7d"}', 0.0)
        mau = s.get('cs_active_users{window="30d"}', 0.0)
        day_users = s.get("cs_user_active_days_gsum", 0.0)  # the 30 complete days' DAU
        month_users = s.get("cs_user_active_days_gcount", 0.0)
        features = sorted(
            (
                (v, k.split('feature="', 1)[1].split('"', 1)[0])
                for k, v in s.items()
                if k.startswith("cs_feature_users{") and 'window="30d"' in k
            ),
            reverse=True,
        )[:5]
        rejected = _sum(s, "cs_events_rejected_total")
        duplicates = _sum(s, "cs_events_duplicate_total")
        lines = [
            self.header,
            time.strftime("%Y-%m-%d %H:%M:%S"),
            "",
            f"  events accepted  {accepted:>12,.0f}   {rate:>9,.0f}/s",
            f"  rejected         {rejected:>12,.0f}   duplicates {duplicates:,.0f}",
            f"  active users     DAU {dau:>9,.0f}   WAU {wau:>9,.0f}   MAU {mau:>9,.0f}",
            f"  stickiness       30d avg DAU/MAU {_pct(day_users / 30, month_users)}   "
            f"today so far DAU/MAU {_pct(dau, mau)}   WAU/MAU {_pct(wau, mau)}",
            "  top features (30d users, share of MAU):",
        ]
        lines += [f"    {name:<24} {v:>9,.0f}  {_pct(v, mau)}" for v, name in features]
        lines += ["", "  Ctrl-C stops everything."]
        return "\n".join(lines)
