"""``replay --step``: each step equals ``replay --as-of`` of that step, in one pass in
``ts`` order (sorted input streamed, unsorted input sorted externally); the OpenMetrics
file is what promtool takes; command-line mistakes are one line and exit code 2."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from stream_app.cli import main
from stream_app.generator import GeneratorConfig, generate_history, write_jsonl
from stream_app.kpi.families import Family
from stream_app.kpi.settings import KpiSettings
from stream_app.openmetrics import OpenMetricsWriter
from stream_app.replay import replay, replay_steps, step_times

END = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)

Snapshot = dict[tuple[str, str, tuple[tuple[str, str], ...]], float]


def snapshot(families: list[Family]) -> Snapshot:
    return {
        (f.name, suffix, labels): float(value)
        for f in families
        for (suffix, labels), value in f.samples.items()
    }


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """21 days of a small company, with duplicates and invalid lines (slightly out of
    ts order, as the generator writes them)."""
    cfg = GeneratorConfig(
        seed=11, accounts=12, days=21, end=END, duplicate_ratio=0.02, invalid_ratio=0.02
    )
    path = tmp_path_factory.mktemp("steps") / "events.jsonl"
    write_jsonl(generate_history(cfg), path)
    return path


def ts_sorted(source: Path, target: Path) -> Path:
    def key(line: bytes) -> float:
        try:
            ts = orjson.loads(line).get("ts")
            return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        except Exception:
            return float("-inf")

    lines: list[bytes] = [line for line in source.read_bytes().splitlines() if line.strip()]
    lines.sort(key=key)
    target.write_bytes(b"\n".join(lines) + b"\n")
    return target


def steps_of(
    path: Path | list[Path], **kwargs: object
) -> tuple[list[datetime], list[Snapshot], bool]:
    times: list[datetime] = []
    snaps: list[Snapshot] = []

    def sink(at: datetime, families: list[Family]) -> None:
        times.append(at)
        snaps.append(snapshot(families))

    paths = path if isinstance(path, list) else [path]
    result = replay_steps(paths, kwargs.pop("settings", KpiSettings()), sink, **kwargs)  # type: ignore[arg-type]
    assert result.steps == len(times)
    return times, snaps, result.sorted_externally


@pytest.mark.parametrize(
    ("step", "tz", "chunk_lines"),
    [
        pytest.param("1d", "UTC", 200_000, id="daily-utc"),
        pytest.param("1d", "America/New_York", 500, id="daily-new-york-small-sort-runs"),
        pytest.param("7h", "Europe/Berlin", 200_000, id="every-7h-berlin"),
    ],
)
def test_each_step_equals_replay_as_of(history: Path, step: str, tz: str, chunk_lines: int) -> None:
    settings = KpiSettings(timezone=tz)
    times, snaps, sorted_externally = steps_of(
        history, settings=settings, step=step, chunk_lines=chunk_lines
    )
    assert sorted_externally  # the generator's noise is out of ts order
    assert len(times) >= 21
    for at, snap in zip(times, snaps, strict=True):
        want = replay([history], settings, at)
        assert snap == snapshot(want.core.families(at)), at.isoformat()
    # the last step is not after the latest event; the steps increase
    assert times == sorted(times) and times[-1] <= END


def test_sorted_input_is_streamed_with_the_same_result(history: Path, tmp_path: Path) -> None:
    ordered = ts_sorted(history, tmp_path / "sorted.jsonl")
    times, snaps, sorted_externally = steps_of(ordered, step="1d")
    assert not sorted_externally
    for at, snap in list(zip(times, snaps, strict=True))[::5]:
        assert snap == snapshot(replay([ordered], KpiSettings(), at).core.families(at))
    # two files (split by line parity) are merged by ts: the same steps
    lines = ordered.read_bytes().splitlines()
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(b"\n".join(lines[::2]) + b"\n")
    b.write_bytes(b"\n".join(lines[1::2]) + b"\n")
    assert steps_of([a, b], step="1d")[:2] == (times, snaps)


def test_step_times_keep_local_midnight_across_dst() -> None:
    ny = ZoneInfo("America/New_York")
    start = datetime(2026, 3, 7, tzinfo=ny)
    end = datetime(2026, 3, 10, tzinfo=ny)
    got = [t.isoformat() for t in step_times(start, end, "1d", ny)]
    # 2026-03-08 is 23 hours long in New York
    assert got == [
        "2026-03-07T05:00:00+00:00",
        "2026-03-08T05:00:00+00:00",
        "2026-03-09T04:00:00+00:00",
        "2026-03-10T04:00:00+00:00",
    ]
    hourly = list(step_times(start, start.replace(hour=3), "1h", ny))
    assert [t.hour for t in hourly] == [5, 6, 7, 8]


def om_samples(text: str) -> Iterator[tuple[str, str]]:
    for line in text.splitlines():
        if not line.startswith("#"):
            yield line.split("{")[0].split(" ")[0], line


def test_openmetrics_file_is_what_promtool_takes(history: Path, tmp_path: Path) -> None:
    target = tmp_path / "steps.om"
    writer = OpenMetricsWriter(target)
    result = replay_steps([history], KpiSettings(), writer.add, step="1d")
    writer.close()
    text = target.read_text()
    lines = text.splitlines()
    assert lines[-1] == "# EOF" and text.count("# EOF") == 1
    types = [line.split()[2] for line in lines if line.startswith("# TYPE ")]
    assert len(types) == len(set(types)), "a family is repeated"
    # each family's samples come right after its TYPE line, never interleaved
    current = None
    for line in lines[:-1]:
        if line.startswith("# TYPE "):
            current = line.split()[2]
        elif not line.startswith("#"):
            assert current is not None and line.startswith(current), line
            assert len(line.rsplit(" ", 2)) == 3  # name{labels} value timestamp
    assert "# TYPE cs_user_active_days gaugehistogram" in text
    assert "# TYPE cs_cohort_retained_users gauge" in text
    promtool = shutil.which("promtool")
    assert promtool, "promtool is not installed: run ./dev bootstrap"
    out = subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(target),
            str(tmp_path / "tsdb"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    samples = sum(int(line.split()[4]) for line in out.stdout.splitlines()[1:] if line.strip())
    assert samples == writer.samples == sum(1 for _ in om_samples(text))
    assert result.steps == len(
        {line.rsplit(" ", 1)[1] for line in lines if not line.startswith("#")}
    )


def run_cli(argv: list[str]) -> int:
    """The exit code of ``stream-app argv`` (argparse's own errors exit through SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


USER_ERRORS = [
    (["--step", "1d"], "go with --openmetrics"),
    (["--step", "2x", "--openmetrics", "{tmp}/x.om"], "--step '2x'"),
    (["--openmetrics", "{tmp}/x.om", "--as-of", "2026-03-01T00:00:00Z"], "does not take --as-of"),
    (["--openmetrics", "{tmp}/x.om", "--from", "yesterday"], "--from: 'yesterday'"),
    (
        [
            "--openmetrics",
            "{tmp}/x.om",
            "--from",
            "2026-03-05T00:00:00Z",
            "--to",
            "2026-03-01T00:00:00Z",
        ],
        "--to is before --from",
    ),
    (["--openmetrics", "{tmp}/missing/x.om"], "no such directory"),
    (["--openmetrics", "{tmp}/x.om", "--timezone", "Mars/Base"], "timezone 'Mars/Base'"),
]


@pytest.mark.parametrize(("argv", "message"), USER_ERRORS)
def test_user_errors_are_one_line_and_exit_2(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code = run_cli(["replay", str(history), "--quiet", *(a.format(tmp=tmp_path) for a in argv)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "x.om").exists()


def test_missing_input_and_backfill_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run_cli(["replay", str(tmp_path / "none.jsonl"), "--openmetrics", str(tmp_path / "x.om")])
        == 2
    )
    assert "no such file" in capsys.readouterr().err
    code = run_cli(
        ["backfill", str(tmp_path / "none.jsonl"), "--prometheus-data", str(tmp_path / "d")]
    )
    assert code == 2 and "no such file" in capsys.readouterr().err


def test_command_line_writes_the_file(
    history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "cli.om"
    code = main(
        [
            "replay",
            str(history),
            "--from",
            "2026-03-01T00:00:00Z",
            "--to",
            "2026-03-03T00:00:00Z",
            "--step",
            "1d",
            "--openmetrics",
            str(target),
        ]
    )
    assert code == 0
    assert "3 steps of 1d" in capsys.readouterr().err
    stamps = {
        line.rsplit(" ", 1)[1]
        for line in target.read_text().splitlines()
        if not line.startswith("#")
    }
    assert stamps == {str(int(datetime(2026, 3, d, tzinfo=UTC).timestamp())) for d in (1, 2, 3)}
