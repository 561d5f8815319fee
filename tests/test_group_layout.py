"""Every KPI group is found from its name: its recording rules, their unit tests, its
board panels and its docs section (docs/kpis.md has the index)."""

from __future__ import annotations

import importlib
import json
import re
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from stream_app.dashboards import BOARDS, build, groups
from stream_app.kpi.registry import GROUP_CLASSES
from tests.prom_stack import METRIC_NAME, ROOT

RULES = ROOT / "prometheus" / "rules"
PROM_TESTS = ROOT / "prometheus" / "tests"
PANELS = ROOT / "stream_app" / "dashboards" / "groups"
KPIS_DOC = ROOT / "docs" / "kpis.md"
#: the registry's groups, in export order
NAMES = [cls.name for cls in GROUP_CLASSES]
#: rule files of no KPI group: the pipeline's rules, and the KPI and pipeline alerts
OTHER_RULE_FILES = {"pipeline.yml", "alerts.yml"}


def rule_groups(name: str) -> list[dict[str, Any]]:
    path = RULES / f"{name}.yml"
    assert path.is_file(), f"prometheus/rules/{name}.yml is missing"
    groups_: list[dict[str, Any]] = yaml.safe_load(path.read_text())["groups"]
    return groups_


def recorded(name: str) -> set[str]:
    return {r["record"] for g in rule_groups(name) for r in g["rules"] if "record" in r}


def panel_exprs(panels: list[Any]) -> list[str]:
    docs = [json.loads(json.dumps(p.build(), cls=JSONEncoder)) for p in panels]
    return [t["expr"] for doc in docs for t in doc.get("targets", []) if t.get("expr")]


def test_the_groups_are_the_registrys() -> None:
    by_name = tuple(getattr(groups, name, None) for name in NAMES)
    assert by_name == groups.ALL, "stream_app.dashboards.groups.ALL is not in registry order"
    assert {p.name for p in RULES.glob("*.yml")} == {f"{n}.yml" for n in NAMES} | OTHER_RULE_FILES
    assert {p.stem for p in PANELS.glob("*.py")} == {"__init__", *NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_recording_rules(name: str) -> None:
    groups_ = rule_groups(name)
    assert all(g["name"].startswith(f"cs-{name}") for g in groups_), [g["name"] for g in groups_]
    assert recorded(name), f"prometheus/rules/{name}.yml has no recording rule"


@pytest.mark.parametrize("name", NAMES)
def test_rule_unit_tests(name: str) -> None:
    main = PROM_TESTS / f"{name}_test.yml"
    assert main.is_file(), f"prometheus/tests/{name}_test.yml is missing"
    files = [main, *sorted(PROM_TESTS.glob(f"{name}_*_test.yml"))]
    tested = ""
    for path in files:
        doc = yaml.safe_load(path.read_text())
        assert f"../rules/{name}.yml" in doc["rule_files"], path.name
        tested += " ".join(
            case["expr"] for test in doc["tests"] for case in test.get("promql_expr_test", [])
        )
    untested = {rule for rule in recorded(name) if not re.search(rf"{re.escape(rule)}\b", tested)}
    assert untested == set(), f"not tested in {[p.name for p in files]}"


@pytest.mark.parametrize("name", NAMES)
def test_board_panels(name: str) -> None:
    assert (PANELS / f"{name}.py").is_file(), f"stream_app/dashboards/groups/{name}.py is missing"
    module = importlib.import_module(f"stream_app.dashboards.groups.{name}")
    rows = module.rows()
    assert rows and all(title and panels for title, panels in rows)
    panels = [p for _, row in rows for p in row] + module.headline() + module.trends()
    exprs = panel_exprs(panels)
    # every recording rule of the group is on one of its panels ...
    shown = {n for expr in exprs for n in METRIC_NAME.findall(expr)}
    assert recorded(name) - shown == set()
    # ... and every panel of the group is on a board
    on_boards = {
        target["expr"]
        for doc in map(build, BOARDS)
        for panel in doc["panels"]
        for target in panel.get("targets", [])
    }
    assert set(exprs) <= on_boards


@pytest.mark.parametrize("name", NAMES)
def test_docs_section(name: str) -> None:
    doc = KPIS_DOC.read_text()
    anchor = f'<a id="group-{name}"></a>'
    assert doc.count(anchor) == 1, f"docs/kpis.md has no {anchor}"
    assert re.search(rf"{re.escape(anchor)}\n\n## \S", doc), "the anchor is not on a section"
    assert f"](#group-{name})" in doc, "the index at the top does not link the section"
