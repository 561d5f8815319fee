"""Every user mistake on the command line is ONE line on stderr naming the bad value, and
exit code 2; ``--help`` shows every flag's default; replay's summary and --rejects-out."""

from __future__ import annotations

import argparse
import io
import socket
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from stream_app.cli import build_parser, main
from stream_app.replay_progress import LineProgress, progress_for
from tests.helpers import ev


def run_cli(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own errors
        return int(exc.code or 0)


@pytest.fixture
def events_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    good = ev("user_signed_up", eid="e1", ts="2026-03-01T10:00:00Z", account="a1")
    path.write_bytes(good + b"\n")
    return path


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


# (argv, text the one line must contain); {file}: a valid events file, {tmp}: a temp dir
CASES: list[tuple[list[str], str]] = [
    (["replay", "{tmp}/missing.jsonl"], "no such file: {tmp}/missing.jsonl"),
    (["replay", "{tmp}"], "is a directory"),
    (["replay", "--as-of", "yesterday", "{file}"], "'yesterday' is not an RFC 3339 time"),
    (["replay", "--as-of", "2026-03-01T12:00:00", "{file}"], "has no UTC offset"),
    (["replay", "--out", "{tmp}/no/such/dir/out.prom", "{file}"], "does not exist"),
    (["replay", "--rejects-out", "{tmp}/nope/r.jsonl", "{file}"], "does not exist"),
    (["replay", "--timezone", "Mars/Olympus", "{file}"], "'Mars/Olympus'"),
    (["replay"], "the following arguments are required: files"),
    (["replay", "--bogus", "{file}"], "unrecognized arguments: --bogus"),
    (["generate", "--accounts", "0"], "--accounts: must be > 0, not 0"),
    (["generate", "--accounts", "many"], "'many'"),
    (["generate", "--days", "-3"], "--days: must be > 0, not -3"),
    (["generate", "--rate", "0"], "--rate: must be > 0, not 0"),
    (["generate", "--duplicates", "1.5"], "--duplicates: must be within [0, 1], not 1.5"),
    (["generate", "--invalid", "-0.1"], "--invalid: must be within [0, 1], not -0.1"),
    (["generate", "--end", "tomorrow"], "'tomorrow' is not an RFC 3339 time"),
    (["generate", "--churn-spike-at", "2026-03-01T00:00:00"], "has no UTC offset"),
    (["generate", "--churn-spike-hours", "0"], "--churn-spike-hours: must be > 0, not 0"),
    (["generate", "--out", "{tmp}/no/dir/x.jsonl"], "does not exist"),
    (["run", "--accounts", "0"], "--accounts: must be > 0, not 0"),
    (["run", "--days", "0"], "--days: must be > 0, not 0"),
    (["run", "--web-port", "70000"], "--web-port: must be within [1, 65535], not 70000"),
    (["run", "--speed", "0"], "--speed: must be > 0, not 0"),
    (["run", "--refresh", "0"], "--refresh: must be > 0, not 0"),
    (["run", "--duration", "-1"], "--duration: must be > 0, not -1"),
    (["run", "--partitions", "0"], "--partitions: must be > 0, not 0"),
    (["run", "--web-port", "{busy_port}"], "port {busy_port} is in use"),
    (["worker", "--partitions", "0"], "--partitions: must be > 0, not 0"),
    (["worker", "--web-port", "0"], "--web-port: must be within [1, 65535], not 0"),
    (["worker", "--timezone", "Mars/Olympus"], "'Mars/Olympus'"),
    (["worker", "--processes", "0"], "'0': write auto or a whole number from 1"),
    (["worker", "--processes", "2", "--web-port", "{busy_port}"], "port {busy_port} is in use"),
    (["dead-letters", "resubmit"], "resubmit needs the JSONL file"),
    (["dead-letters", "resubmit", "{tmp}/none.jsonl"], "no such file: {tmp}/none.jsonl"),
    (["dead-letters", "resubmit", "{notjson}"], "line 2 is not JSON"),
    (["dead-letters", "show", "--limit", "0"], "--limit: must be > 0, not 0"),
    (["dead-letters", "explode"], "invalid choice: 'explode'"),
    (["dead-letters", "show", "--broker", "kafka://127.0.0.1:{closed_port}"], "cannot reach"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("argv", "expected"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_user_mistake_is_one_line_and_exit_2(
    argv: list[str],
    expected: str,
    tmp_path: Path,
    events_file: Path,
    busy_port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    notjson = tmp_path / "fixed.jsonl"
    notjson.write_text('{"value": "{}"}\nnot json\n')
    values = {
        "file": str(events_file),
        "tmp": str(tmp_path),
        "busy_port": str(busy_port),
        "notjson": str(notjson),
        "closed_port": str(_closed_port()),
    }
    argv = [a.format(**values) for a in argv]
    code = run_cli(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("stream-app")
    assert expected.format(**values) in lines[0]
    assert "Traceback" not in err


def test_a_bad_environment_setting_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CS_PARTITIONS", "several")
    assert run_cli(["worker"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "CS_PARTITIONS" in err[0] and "'several'" in err[0]


def test_a_setting_without_a_flag_names_its_variable_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CS_ALLOCATOR", "tcmalloc")
    assert run_cli(["worker"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "(CS_ALLOCATOR) = 'tcmalloc'" in line and "--allocator" not in line
    assert "'auto', 'jemalloc' or 'python'" in line


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_help_shows_every_flag_with_its_default(command: str) -> None:
    sub = _subparsers()[command]
    text = sub.format_help()
    for action in sub._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{command} {action.option_strings or action.dest}: no help"
        if action.default not in (None, False) or action.dest in _worker_flags(command):
            rendered = sub._get_formatter()._expand_help(action)  # type: ignore[attr-defined]
            assert "default" in rendered, f"{command} {action.option_strings}: no default"
    assert "--help" in text


def _worker_flags(command: str) -> set[str]:
    from stream_app.commands.flags import WORKER_FLAGS

    return set(WORKER_FLAGS) if command in ("worker", "replay") else set()


def test_replay_summary_breaks_rejects_down_and_writes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [
        ev("user_signed_up", eid="e1", ts="2026-03-01T10:00:00Z", account="a1"),
        b"{not json",
        b"",
        orjson.dumps({"type": "user_signed_up", "account_id": "a1"}),
        ev("session_started", eid="e2", ts="2026-03-01T10:05:00Z", account="a1"),
        b"[1, 2]",
        b"also not json",
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    rejects = tmp_path / "rejects.jsonl"
    out = tmp_path / "out.prom"
    code = main(["replay", "--out", str(out), "--rejects-out", str(rejects), str(path)])
    assert code == 0
    err = capsys.readouterr().err
    written = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert [w["line"] for w in written] == [2, 4, 6, 7]
    assert written[0]["text"] == "{not json"
    reasons: dict[str, int] = {}
    for w in written:
        assert w["reason"] and w["detail"] and w["file"] == str(path)
        reasons[w["reason"]] = reasons.get(w["reason"], 0) + 1
    summary = next(line for line in err.splitlines() if line.startswith("replay: 6 lines"))
    assert "rejected 4 (" in summary
    for reason, n in reasons.items():
        assert f"{reason} {n}" in summary
    assert "4 rejected lines written to" in err
    assert "\r" not in err


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_otherwise() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(progress_for(io.StringIO(), 100), LineProgress)
    bar = progress_for(Tty(), 100)
    assert not isinstance(bar, LineProgress)
    bar.update(50, 10)
    bar.finish()
    log = io.StringIO()
    lines = LineProgress(log, 1000, interval=0.0)
    lines.update(250, 5_000)
    lines.update(1000, 20_000)
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    assert text.splitlines()[0].startswith("replay: 25% of the input, 5,000 lines")
    assert len(text.splitlines()) == 2
