"""``python -m bench.group_costs``: µs of CPU per line with every group, each group alone
and the parser alone, each variant measured on the same lines."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from bench.group_costs import main, per_line_us
from stream_app.kpi.registry import group_names
from tests.faults import dataset


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in dataset(seed=7, accounts=8)))
    return path


def test_every_group_alone_every_group_and_the_parser(
    events: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main([str(events), "--lines", "400", "--repeat", "2", "--as-of", "2100-01-01T00:00:00+00:00"])
    out = json.loads(capsys.readouterr().out)
    assert out["lines"] == 400
    runs = out["us_per_line"]
    assert list(runs) == ["parse", "all", *group_names()]
    assert all(len(r) == 2 and all(us > 0 for us in r) for r in runs.values())


def test_an_unknown_group_is_refused(events: Path) -> None:
    lines = events.read_bytes().splitlines()[:50]
    with pytest.raises(ValueError, match="bogus"):  # the groups reach the core's settings
        per_line_us(lines, "bogus", 4e9)
