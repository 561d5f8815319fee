"""The worker's allocator (``CS_ALLOCATOR``): when it starts itself again on jemalloc, with
what environment, and what jemalloc gives back that CPython's allocator keeps."""

from __future__ import annotations

import gc
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from stream_app import allocator
from stream_app.allocator import (
    MALLOC_CONF,
    RESTARTED,
    AllocatorMissing,
    choice_in,
    choose_at_start,
    on_jemalloc,
    restart_environment,
    use_allocator,
)
from stream_app.worker.memory import release_free_memory
from tests.helpers import in_fresh_interpreter, rss_mb

LIBRARY = allocator.jemalloc_library()
needs_jemalloc = pytest.mark.skipif(
    LIBRARY is None, reason="libjemalloc.so.2 is not installed (Debian: libjemalloc2)"
)

ENVIRONMENTS = [
    # (the environment, what the started-again process gets beside it)
    ({}, {"LD_PRELOAD": "libjemalloc.so.2", "MALLOC_CONF": MALLOC_CONF}),
    (
        {"LD_PRELOAD": "/opt/trace.so"},
        {"LD_PRELOAD": "libjemalloc.so.2 /opt/trace.so", "MALLOC_CONF": MALLOC_CONF},
    ),
    (
        {"MALLOC_CONF": "narenas:2"},
        {"LD_PRELOAD": "libjemalloc.so.2", "MALLOC_CONF": "narenas:2"},
    ),
    ({"PYTHONMALLOC": "pymalloc"}, {"LD_PRELOAD": "libjemalloc.so.2", "MALLOC_CONF": MALLOC_CONF}),
]


@pytest.mark.parametrize(("env", "expected"), ENVIRONMENTS)
def test_the_environment_of_the_process_started_again(
    env: dict[str, str], expected: dict[str, str]
) -> None:
    got = restart_environment("libjemalloc.so.2", {"PATH": "/bin", **env})
    assert got == {
        "PATH": "/bin",
        **env,
        **expected,
        "PYTHONMALLOC": "malloc",
        RESTARTED: "1",
    }


class Exec(Exception):
    """What the stubbed ``os.execve`` raises: the process would have been replaced."""


@pytest.fixture
def execve(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []

    def fake(path: str, argv: list[str], env: dict[str, str]) -> None:
        calls.append((path, argv, env))
        raise Exec

    monkeypatch.setattr(allocator.os, "execve", fake)
    monkeypatch.delenv(RESTARTED, raising=False)
    monkeypatch.delenv("PYTHONMALLOC", raising=False)
    return calls


CHOICES = [
    # (CS_ALLOCATOR, jemalloc installed, the outcome)
    ("auto", True, "exec"),
    ("jemalloc", True, "exec"),
    ("python", True, "stay"),
    ("auto", False, "stay"),
    ("python", False, "stay"),
    ("jemalloc", False, "missing"),
]


@pytest.mark.parametrize(("choice", "installed", "outcome"), CHOICES)
def test_which_choice_starts_the_worker_again(
    choice: Any,
    installed: bool,
    outcome: str,
    execve: list[tuple[Any, ...]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    library = "libjemalloc.so.2" if installed else None
    monkeypatch.setattr(allocator, "jemalloc_library", lambda: library)
    if outcome == "exec":
        with pytest.raises(Exec):
            use_allocator(choice)
        ((path, argv, env),) = execve
        assert (path, argv) == (sys.executable, sys.orig_argv)
        assert env["LD_PRELOAD"] == "libjemalloc.so.2" and env["PYTHONMALLOC"] == "malloc"
    elif outcome == "missing":
        with pytest.raises(AllocatorMissing, match="apt-get install libjemalloc2"):
            use_allocator(choice)
        assert execve == []
    else:
        use_allocator(choice)
        assert execve == []


def test_a_process_started_again_is_never_started_a_third_time(
    execve: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the preload failed (the dynamic linker only warns): the worker goes on as it is
    monkeypatch.setattr(allocator, "jemalloc_library", lambda: "libjemalloc.so.2")
    monkeypatch.setenv(RESTARTED, "1")
    use_allocator("auto")
    assert execve == []


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "auto"),
        ({"CS_ALLOCATOR": "python"}, "python"),
        ({"cs_allocator": "jemalloc"}, "jemalloc"),  # the settings read names in any case
        ({"CS_ALLOCATOR": "tcmalloc"}, None),  # the settings refuse it (one line, exit 2)
        ({"CS_ALLOCATOR": "JEMALLOC"}, None),
    ],
)
def test_the_choice_read_before_the_settings(env: dict[str, str], expected: str | None) -> None:
    assert choice_in(env) == expected


def test_only_the_worker_command_is_started_again(
    execve: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(allocator, "jemalloc_library", lambda: "libjemalloc.so.2")
    monkeypatch.delenv("CS_ALLOCATOR", raising=False)
    for argv in (["replay", "x.jsonl"], ["run"], [], ["--help"]):
        choose_at_start(argv)
    monkeypatch.setenv("CS_ALLOCATOR", "bogus")
    choose_at_start(["worker"])
    assert execve == []
    monkeypatch.setenv("CS_ALLOCATOR", "auto")
    with pytest.raises(Exec):
        choose_at_start(["worker", "--processes", "2"])
    assert len(execve) == 1


def test_a_missing_jemalloc_asked_for_is_one_line_and_exit_2(
    execve: list[tuple[Any, ...]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(allocator, "jemalloc_library", lambda: None)
    monkeypatch.setenv("CS_ALLOCATOR", "jemalloc")
    with pytest.raises(SystemExit) as stopped:
        choose_at_start(["worker"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("stream-app worker: CS_ALLOCATOR=jemalloc")
    assert execve == []


def restarted() -> str:
    """Print this process's id and whether it is on jemalloc, then ``use_allocator``: the
    command starts again from the top, and prints once more before this returns."""
    print(os.getpid(), on_jemalloc(), flush=True)
    use_allocator("auto")
    return f"{os.getpid()} {on_jemalloc()} {'libjemalloc' in Path('/proc/self/maps').read_text()}"


@needs_jemalloc
def test_the_command_starts_again_on_jemalloc_with_its_process_id() -> None:
    out = in_fresh_interpreter(
        "tests.test_allocator:restarted", {RESTARTED: "", "PYTHONMALLOC": ""}
    )
    # the command ran twice in the same process: first as started, then on jemalloc
    pid = out[0].split()[0]
    assert out == [f"{pid} False", f"{pid} True", f"{pid} True True"]


def fragmented() -> str:
    """A backlog's pattern: many short-lived objects, one in 64 kept among them; RSS above
    the start at the peak, once the others are freed, and after ``release_free_memory``."""
    base = rss_mb()
    kept: list[object] = []
    gone: list[object] = []
    for i in range(400_000):
        (kept if i % 64 == 0 else gone).append({"k": i, "v": [i, str(i)]})
    peak = rss_mb() - base
    del gone
    gc.collect()
    freed = rss_mb() - base
    release_free_memory()
    return json.dumps({"peak": peak, "freed": freed, "released": rss_mb() - base})


@needs_jemalloc
def test_jemalloc_gives_back_what_cpythons_arenas_keep() -> None:
    jemalloc = restart_environment(str(LIBRARY), {})
    python = {"PYTHONMALLOC": "pymalloc", "LD_PRELOAD": ""}
    on_jemalloc = json.loads(in_fresh_interpreter("tests.test_allocator:fragmented", jemalloc)[-1])
    on_python = json.loads(in_fresh_interpreter("tests.test_allocator:fragmented", python)[-1])
    # CPython's arenas: one object in 64 keeps nearly all of them (measured: 141 of 144 MB)
    assert on_python["released"] > 0.8 * on_python["peak"]
    # jemalloc, asked to purge, returns the pages no block uses (measured: 72 of 151 MB)
    assert on_jemalloc["released"] < 0.65 * on_jemalloc["peak"]
    assert on_jemalloc["released"] < on_jemalloc["freed"] - 20  # the purge did it
