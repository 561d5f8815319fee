"""The files generated from the contract's declaration are committed and current: the
JSON Schema files, the core's Event class and the docs' contract table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stream_app import schemas
from stream_app.contract import EVENT_TYPES, TOPICS
from stream_app.contract.event import Event
from stream_app.contract.render import event_fields

ROOT = Path(__file__).resolve().parent.parent


def test_committed_files_are_current() -> None:
    assert schemas.drift() == [], "run `stream-app schemas` and commit what it wrote"


def test_drift_is_detected(tmp_path: Path) -> None:
    schemas.write(tmp_path)
    assert schemas.drift(tmp_path) == []
    path = tmp_path / "schemas" / "billing-event.schema.json"
    doc = json.loads(path.read_text())
    doc["title"] = "edited by hand"
    path.write_text(json.dumps(doc))
    (tmp_path / "schemas" / "types" / "gone_type.schema.json").write_text("{}")
    (tmp_path / "docs" / "contract.md").write_text("edited")
    assert schemas.drift(tmp_path) == [
        "docs/contract.md",
        "schemas/billing-event.schema.json",
        "schemas/types/gone_type.schema.json",
    ]


def test_schema_lists_every_event_type() -> None:
    text = (schemas.SCHEMA_DIR / "event.schema.json").read_text()
    for name in EVENT_TYPES:
        assert f'"{name}"' in text


@pytest.mark.parametrize("name", EVENT_TYPES)
def test_every_declared_type_has_its_schema_file_and_docs_row(name: str) -> None:
    path = schemas.SCHEMA_DIR / "types" / f"{name}.schema.json"
    assert path.is_file(), f"{path} missing: run `stream-app schemas`"
    assert json.loads(path.read_text())["properties"]["type"]["const"] == name
    docs = (ROOT / "docs" / "contract.md").read_text()
    assert f"\n| `{name}` |" in docs, f"docs/contract.md has no row for {name}"


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.role)
def test_every_topic_has_its_schema_file_and_docs_row(topic) -> None:  # type: ignore[no-untyped-def]
    assert (schemas.SCHEMA_DIR / f"{topic.role}-event.schema.json").is_file()
    docs = (ROOT / "docs" / "contract.md").read_text()
    assert f"| `{topic.role}` | `{topic.default_name}` | `{topic.key}` |" in docs


def test_event_class_has_every_declared_field() -> None:
    for name, (_py, default) in event_fields().items():
        assert hasattr(Event, name), name
        assert repr(getattr(Event, name)) in (default, default.strip('"')) or (
            default == '""' and getattr(Event, name) == ""
        )
