"""Write / check the JSON Schema files of the event contract (``schemas/``)."""

from __future__ import annotations

import json
from pathlib import Path

from stream_app.contract import json_schemas
from stream_app.generated import drifted, write_files

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def rendered() -> dict[str, str]:
    """File name -> file text, as committed in ``schemas/``."""
    return {
        f"{name}.schema.json": json.dumps(schema, indent=2, sort_keys=True) + "\n"
        for name, schema in json_schemas().items()
    }


def write(directory: Path = SCHEMA_DIR) -> list[Path]:
    return write_files(rendered(), directory)


def drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files that differ from the models (empty when in sync)."""
    return drifted(rendered(), directory)
