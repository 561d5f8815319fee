"""Write / check the files generated from the event contract's declaration: the JSON
Schema files (``schemas/``), the :class:`Event` class (``stream_app/contract/event.py``)
and the contract table (``docs/contract.md``)."""

from __future__ import annotations

import json
from pathlib import Path

from stream_app.contract import json_schemas
from stream_app.contract.render import contract_table, event_source
from stream_app.generated import drifted, write_files

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "schemas"


def rendered() -> dict[str, str]:
    """Path (relative to the repository) -> file text, as committed."""
    files = {
        f"schemas/{name}.schema.json": json.dumps(schema, indent=2, sort_keys=True) + "\n"
        for name, schema in json_schemas().items()
    }
    files["stream_app/contract/event.py"] = event_source()
    files["docs/contract.md"] = contract_table()
    return files


def write(root: Path = ROOT) -> list[Path]:
    return write_files(rendered(), root)


def drift(root: Path = ROOT) -> list[str]:
    """Files that differ from the declaration, plus schema files no longer generated
    (empty when in sync)."""
    return drifted(rendered(), root, "schemas/**/*.schema.json")
