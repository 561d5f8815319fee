"""The compiled build of the typed core (``stream_app/compiled.py``, built by ``./dev
bootstrap``): ``stream-app replay`` gives the same exposition byte for byte compiled and
pure (``CS_PURE_PYTHON=1``), says which path ran, and a stale build (a source edited,
added, or a dependency edited since the build) never runs: the pure modules do, with one
warning line.

These tests need the build: without a C compiler they skip (bootstrap built nothing); with
one, a missing build is a failure (bootstrap should have made it, as it does in CI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from stream_app.compiled import BUILD_DIR, MANIFEST, PURE_ENV, ROOT, compiled_sources
from stream_app.dev import build_compiled
from stream_app.dev.build_compiled import compiler_missing, dependencies, up_to_date
from stream_app.generator import GeneratorConfig, generate_history, write_jsonl
from stream_app.kpi.registry import GROUP_CLASSES

END = datetime(2026, 11, 28, tzinfo=UTC)


@pytest.fixture(scope="module")
def build() -> Path:
    """The checkout's build, current."""
    if not (ROOT / BUILD_DIR / MANIFEST).is_file():
        why = compiler_missing()
        if why is not None:
            pytest.skip(f"no compiled build: {why}")
        if os.environ.get(PURE_ENV, "") not in ("", "0"):
            pytest.skip(f"no compiled build: {PURE_ENV} set, so bootstrap built none")
        pytest.fail("a C compiler is here but there is no compiled build: run ./dev bootstrap")
    if not up_to_date(ROOT):
        pytest.skip("the compiled build is stale (sources edited since): ./dev bootstrap")
    return ROOT / BUILD_DIR


def _env(pure: bool, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CS_")}
    env.pop("PYTHONPATH", None)
    if pure:
        env[PURE_ENV] = "1"
    env.update(extra)
    return env


def _replay(data: Path, out: Path, pure: bool, processes: int = 1) -> str:
    """Runs ``stream-app replay`` (on ``processes`` processes); returns its summary line."""
    cmd = [sys.executable, "-m", "stream_app.cli", "replay", "--out", str(out), str(data)]
    done = subprocess.run(
        [*cmd, "--processes", str(processes)],
        env=_env(pure),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert "on one process" not in done.stderr, done.stderr  # split when asked to
    return next(line for line in done.stderr.splitlines() if " lines in " in line)


@pytest.mark.parametrize(
    "config",
    [
        GeneratorConfig(
            seed=11, accounts=40, days=21, end=END, duplicate_ratio=0.05, web_late_ratio=0.1
        ),
        GeneratorConfig(seed=3, accounts=20, days=14, end=END, invalid_ratio=0.05),
    ],
    ids=["duplicates+late-web", "invalid"],
)
# on 2 processes each share reads the file in the compiled loop of stream_app.replay_share
@pytest.mark.parametrize("processes", [1, 2])
def test_replay_is_byte_identical_compiled_and_pure(
    build: Path, tmp_path: Path, config: GeneratorConfig, processes: int
) -> None:
    data = tmp_path / "events.jsonl"
    write_jsonl(generate_history(config), data)
    types = {json.loads(line).get("type") for line in data.read_text().splitlines()}
    # every group gets events
    assert all(set(cls.types) & types for cls in GROUP_CLASSES), types
    compiled = _replay(data, tmp_path / "compiled.prom", pure=False, processes=processes)
    pure = _replay(data, tmp_path / "pure.prom", pure=True, processes=processes)
    assert compiled.endswith("; core: compiled (mypyc)"), compiled
    assert pure.endswith(f"; core: pure Python ({PURE_ENV}=1)"), pure
    assert (tmp_path / "compiled.prom").read_bytes() == (tmp_path / "pure.prom").read_bytes()
    assert b"cs_web_" in (tmp_path / "pure.prom").read_bytes()


#: prints where a compiled module came from and which path the core reports
PROBE = (
    "import stream_app.kpi.groups.usage.group as g, stream_app.kpi.core as c, "
    "stream_app.compiled as k; print(g.__file__); print(c.__file__); print(k.active())"
)


@pytest.fixture
def checkout(build: Path, tmp_path: Path) -> Path:
    """A copy of the package and its build (what a contributor's checkout holds)."""
    root = tmp_path / "checkout"
    shutil.copytree(
        ROOT / "stream_app", root / "stream_app", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(build, root / BUILD_DIR)
    return root


def _probe(root: Path, pure: bool = False) -> tuple[list[str], str]:
    """(the probe's three lines, its stderr), run on the copy ``root``."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=_env(pure, PYTHONPATH=str(root)),
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    )
    return done.stdout.splitlines(), done.stderr


def test_a_current_build_serves_the_compiled_modules(checkout: Path) -> None:
    (group, core, path), err = _probe(checkout)
    assert group.startswith(str(checkout / BUILD_DIR)) and group.endswith(".so")
    assert core.startswith(str(checkout / BUILD_DIR)) and core.endswith(".so")
    assert path == "compiled (mypyc)"
    assert err == ""


def test_the_switch_runs_the_pure_path_silently(checkout: Path) -> None:
    (group, core, path), err = _probe(checkout, pure=True)
    assert group == str(checkout / "stream_app/kpi/groups/usage/group.py")
    assert core == str(checkout / "stream_app/kpi/core.py")
    assert path == f"pure Python ({PURE_ENV}=1)"
    assert err == ""


@pytest.mark.parametrize(
    "edit",
    [
        "stream_app/kpi/groups/usage/group.py",  # a compiled module
        "stream_app/contract/declared.py",  # a pure module the compiled ones import
        "stream_app/kpi/groups/usage/new_module.py",  # a new file under a compiled folder
        "stream_app/kpi/groups/usage/__init__.py",
    ],
)
def test_a_stale_build_never_shadows_an_edited_source(checkout: Path, edit: str) -> None:
    path = checkout / edit
    path.write_text((path.read_text() if path.exists() else "") + "\n# edited\n")
    (group, core, active), err = _probe(checkout)
    # every compiled module falls back, not only the edited one: the build is one unit
    assert group == str(checkout / "stream_app/kpi/groups/usage/group.py")
    assert core == str(checkout / "stream_app/kpi/core.py")
    assert active == "pure Python (the compiled build is stale)"
    lines = err.splitlines()
    assert len(lines) == 1 and "stale" in lines[0] and "./dev bootstrap" in lines[0], err


def test_a_build_for_another_interpreter_is_not_loaded(checkout: Path) -> None:
    manifest = checkout / BUILD_DIR / MANIFEST
    data = json.loads(manifest.read_text())
    data["interpreter"] = "cpython-399 .cpython-399-x86_64-linux-gnu.so"
    manifest.write_text(json.dumps(data))
    (group, _core, active), err = _probe(checkout)
    assert group.endswith("group.py")
    assert active == "pure Python (the compiled build is for another interpreter)"
    assert err == ""


def test_the_hash_covers_the_compiled_modules_and_what_they_import() -> None:
    sources = compiled_sources(ROOT)
    assert "stream_app/kpi/groups/usage/group.py" in sources
    assert "stream_app/contract/fast.py" in sources
    # pydantic models and package files stay pure
    assert "stream_app/kpi/groups/usage/settings.py" not in sources
    assert "stream_app/kpi/__init__.py" not in sources
    deps = dependencies(ROOT, sources)
    assert {"stream_app/contract/declared.py", "stream_app/contract/event.py"} <= set(deps)
    assert "stream_app/kpi/settings.py" in deps
    assert "stream_app/worker/app.py" not in deps  # the shell is not part of the core


def test_without_a_compiler_bootstrap_says_one_line_and_the_pure_path_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(PURE_ENV, raising=False)
    monkeypatch.setattr(build_compiled, "compiler_missing", lambda: "no C compiler (gcc)")
    assert build_compiled.main([]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "compiled core not built (no C compiler (gcc)): the pure-Python path runs\n"


def test_an_incomplete_build_is_not_loaded(checkout: Path) -> None:
    lib = next((checkout / BUILD_DIR / "stream_app" / "kpi").glob("core.*.so"))
    lib.unlink()
    (group, core, active), err = _probe(checkout)
    assert group.endswith("group.py") and core.endswith("core.py")
    assert active == "pure Python (the compiled build is incomplete)"
    lines = err.splitlines()
    assert len(lines) == 1 and "lacks some of its modules" in lines[0], err


#: ingests a generated history into one core, then prints, for the days held per key
#: (dedupe windows, visitors' latest and page-view days, health's users' last active
#: days), the count of distinct values and of distinct int objects
DAY_OBJECTS = """
import sys
from datetime import UTC, datetime
from stream_app.generator import GeneratorConfig, generate_history
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.settings import KpiSettings
import orjson
core = PartitionCore(KpiSettings(), 0)
cfg = GeneratorConfig(seed=5, accounts=30, days=10, end=datetime(2026, 11, 28, tzinfo=UTC))
for i, event in enumerate(generate_history(cfg)):
    core.ingest(orjson.dumps(event), None, None, None)
core.settle()
held = []
for field, states in core.keys.items():
    layout = core.layouts[field]
    for state in states.values():
        for role in layout.roles:
            cell = layout.window_cell(role)
            held += [d for d in state[cell : cell + 2] if d is not None]
        for name, slice_ in zip(layout.groups, state):
            if name == "web" and slice_ is not None:
                held += [d for d in (slice_.latest_day, slice_.pv_day) if d is not None]
            if name == "health" and slice_ is not None:
                held += list(slice_.users.values())
print(len(held), len(set(held)), len({id(d) for d in held}))
"""


@pytest.mark.parametrize("pure", [False, True], ids=["compiled", "pure"])
def test_state_holds_one_int_object_per_day_on_both_paths(build: Path, pure: bool) -> None:
    """A day held by many keys is one int object on both paths (the compiled build would
    otherwise box a new one, 32 bytes, each time it stores a day: stream_app/kpi/shared.py)."""
    done = subprocess.run(
        [sys.executable, "-c", DAY_OBJECTS],
        env=_env(pure),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    held, values, objects = map(int, done.stdout.split())
    assert held > 20 * values, (held, values)  # many keys share each day
    assert objects == values, (held, values, objects)
