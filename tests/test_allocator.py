"""The worker's allocator (``CS_ALLOCATOR``): when it starts itself again on jemalloc, with
what environment, and what jemalloc gives back that CPython's allocator keeps."""

from __future__ import annotations

import subprocess
import sys
import textwrap
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
    restart_environment,
    use_allocator,
)

ROOT = Path(__file__).resolve().parent.parent
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


def _python(code: str, env: dict[str, str] | None = None) -> str:
    import os

    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    return result.stdout


@needs_jemalloc
def test_the_command_starts_again_on_jemalloc_with_its_process_id() -> None:
    out = _python(
        """
        import os
        from stream_app.allocator import on_jemalloc, use_allocator
        print(os.getpid(), on_jemalloc(), flush=True)
        use_allocator("auto")
        print(os.getpid(), on_jemalloc(), "libjemalloc" in open("/proc/self/maps").read())
        """,
        {"CS_ALLOCATOR_STARTED": "", "PYTHONMALLOC": ""},
    ).splitlines()
    # the command ran twice in the same process: first as started, then on jemalloc
    pid = out[0].split()[0]
    assert out == [f"{pid} False", f"{pid} True", f"{pid} True True"]


#: a backlog's pattern: many short-lived objects, one in 64 kept among them
FRAGMENTED = """
    import gc, json
    from stream_app.worker.memory import release_free_memory

    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024

    base = rss()
    kept, gone = [], []
    for i in range(400_000):
        (kept if i % 64 == 0 else gone).append({"k": i, "v": [i, str(i)]})
    peak = rss() - base
    del gone
    gc.collect()
    freed = rss() - base
    release_free_memory()
    print(json.dumps({"peak": peak, "freed": freed, "released": rss() - base}))
"""


@needs_jemalloc
def test_jemalloc_gives_back_what_cpythons_arenas_keep() -> None:
    import json

    jemalloc = restart_environment(str(LIBRARY), {})
    on_jemalloc = json.loads(_python(FRAGMENTED, jemalloc))
    on_python = json.loads(_python(FRAGMENTED, {"PYTHONMALLOC": "pymalloc", "LD_PRELOAD": ""}))
    # CPython's arenas: one object in 64 keeps nearly all of them (measured: 141 of 144 MB)
    assert on_python["released"] > 0.8 * on_python["peak"]
    # jemalloc, asked to purge, returns the pages no block uses (measured: 72 of 151 MB)
    assert on_jemalloc["released"] < 0.65 * on_jemalloc["peak"]
    assert on_jemalloc["released"] < on_jemalloc["freed"] - 20  # the purge did it
