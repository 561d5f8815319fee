"""Grafana dashboards as code (grafana-foundation-sdk, a Grafana 11 build; dev extra).

The boards (:mod:`stream_app.dashboards.boards`) are composed from the panels of each KPI
group, ``stream_app/dashboards/groups/<name>.py`` (the group of
``stream_app/kpi/groups/<name>/``), and of the pipeline (:mod:`.pipeline`); the panel
helpers are in :mod:`.panels`.

``python -m stream_app.dashboards`` writes ``grafana/dashboards/<uid>.json``;
``--check`` exits 1 when the committed JSON differs from what the code generates
(tests/test_dashboards.py does the same). Grafana loads the files through
``grafana/provisioning/dashboards/stream-app.yml``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from stream_app.dashboards.boards import BOARDS
from stream_app.generated import drifted, write_files

OUT_DIR = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"


def build(make: Callable[[], dashboard.Dashboard]) -> dict[str, Any]:
    """One board as the JSON object Grafana loads (panel ids numbered in order)."""
    doc: dict[str, Any] = json.loads(json.dumps(make().build(), cls=JSONEncoder))
    for number, panel in enumerate(doc.get("panels", []), start=1):
        panel["id"] = number
    return doc


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generated() -> dict[str, str]:
    """File name -> JSON text of every board."""
    out: dict[str, str] = {}
    for make in BOARDS:
        doc = build(make)
        out[f"{doc['uid']}.json"] = render(doc)
    return out


def write(out_dir: Path = OUT_DIR) -> list[Path]:
    return write_files(generated(), out_dir)


def drift(out_dir: Path = OUT_DIR) -> list[str]:
    """Names of the board files that are missing, stale, or no longer generated."""
    return drifted(generated(), out_dir, "*.json")


def panel_queries(doc: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, expr) of every query of a board."""
    for panel in doc.get("panels", []):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield panel.get("title", ""), target["expr"]
