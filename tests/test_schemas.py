"""The committed JSON Schema files match the pydantic models of the contract."""

from __future__ import annotations

import json
from pathlib import Path

from stream_app import schemas


def test_committed_schemas_are_current() -> None:
    assert schemas.drift() == [], "run `stream-app schemas` and commit schemas/"


def test_drift_is_detected(tmp_path: Path) -> None:
    schemas.write(tmp_path)
    assert schemas.drift(tmp_path) == []
    path = tmp_path / "billing-event.schema.json"
    doc = json.loads(path.read_text())
    doc["title"] = "edited by hand"
    path.write_text(json.dumps(doc))
    assert schemas.drift(tmp_path) == ["billing-event.schema.json"]


def test_schema_lists_every_event_type() -> None:
    text = (schemas.SCHEMA_DIR / "event.schema.json").read_text()
    for name in ("user_signed_up", "feature_used", "subscription_cancelled", "ticket_resolved"):
        assert f'"{name}"' in text
