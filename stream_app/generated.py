"""Files generated from code and committed (JSON Schemas, Grafana boards): write them,
and tell which committed files drifted from what the code generates."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_files(files: Mapping[str, str], directory: Path) -> list[Path]:
    """Write ``files`` (name -> text) into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def drifted(files: Mapping[str, str], directory: Path, pattern: str | None = None) -> list[str]:
    """Names of files that are missing or differ from ``files``, plus (with ``pattern``)
    files matching it that are no longer generated; sorted, empty when in sync."""
    stale = [
        name
        for name, text in files.items()
        if not (directory / name).is_file()
        or (directory / name).read_text(encoding="utf-8") != text
    ]
    if pattern is not None:
        found = (p.relative_to(directory).as_posix() for p in directory.glob(pattern))
        stale += [name for name in found if name not in files]
    return sorted(stale)
