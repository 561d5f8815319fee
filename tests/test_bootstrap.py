"""``./dev``'s bootstrap: which Debian packages it installs, each tool checked on its own.

``scripts/missing-debian-packages`` runs with PATH pointing at a directory of stub
executables and ``CS_LIBRARY_DIRS`` at a directory of stub libraries, so the test sees
exactly what a machine with those tools and libraries would install (nothing is
installed)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "missing-debian-packages"
BASH = shutil.which("bash") or "/bin/bash"
ALL_TOOLS = (
    "java",
    "mvn",
    "promtool",
    "prometheus",
    "prometheus-alertmanager",
    "amtool",
    "chromium",
)


ALL_LIBRARIES = ("libjemalloc.so.2",)


def missing(
    tmp_path: Path, present: tuple[str, ...], libraries: tuple[str, ...] = ALL_LIBRARIES
) -> list[str]:
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for tool in present:
        stub = stubs / tool
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    lib = tmp_path / "lib"
    lib.mkdir()
    for library in libraries:
        (lib / library).write_bytes(b"")
    env = {"PATH": str(stubs), "CS_LIBRARY_DIRS": f"{tmp_path / 'none'} {lib}"}
    result = subprocess.run(
        [BASH, str(SCRIPT)], env=env, capture_output=True, text=True, check=True
    )
    assert result.stderr == ""
    return result.stdout.split()


CASES = [
    # (tools on PATH, packages it must install)
    (ALL_TOOLS, []),
    (
        (),
        ["openjdk-17-jre-headless", "maven", "prometheus", "prometheus-alertmanager", "chromium"],
    ),
    # the case of issue 13: promtool there, alertmanager and amtool not
    (("java", "mvn", "promtool", "prometheus", "chromium"), ["prometheus-alertmanager"]),
    (
        ("java", "mvn", "promtool", "prometheus", "prometheus-alertmanager", "chromium"),
        ["prometheus-alertmanager"],
    ),
    (tuple(t for t in ALL_TOOLS if t != "chromium"), ["chromium"]),
    (tuple(t for t in ALL_TOOLS if t != "java"), ["openjdk-17-jre-headless"]),
    (tuple(t for t in ALL_TOOLS if t != "mvn"), ["maven"]),
    (tuple(t for t in ALL_TOOLS if t != "prometheus"), ["prometheus"]),
    (tuple(t for t in ALL_TOOLS if t != "promtool"), ["prometheus"]),
    # one package named once even when both of its tools are missing
    (("java", "mvn", "prometheus-alertmanager", "amtool", "chromium"), ["prometheus"]),
]


@pytest.mark.parametrize(("present", "expected"), CASES)
def test_each_tool_is_checked_on_its_own(
    tmp_path: Path, present: tuple[str, ...], expected: list[str]
) -> None:
    assert missing(tmp_path, present) == expected


LIBRARY_CASES = [
    # (libraries in the linker's directories, packages it must install)
    (ALL_LIBRARIES, []),
    ((), ["libjemalloc2"]),
]


@pytest.mark.parametrize(("libraries", "expected"), LIBRARY_CASES)
def test_each_library_is_looked_for_in_the_linkers_directories(
    tmp_path: Path, libraries: tuple[str, ...], expected: list[str]
) -> None:
    assert missing(tmp_path, ALL_TOOLS, libraries) == expected


def test_a_machine_without_anything_installs_every_package(tmp_path: Path) -> None:
    assert missing(tmp_path, (), ()) == [
        "openjdk-17-jre-headless",
        "maven",
        "prometheus",
        "prometheus-alertmanager",
        "chromium",
        "libjemalloc2",
    ]


def test_dev_bootstraps_through_the_detection() -> None:
    dev = (ROOT / "dev").read_text()
    assert "scripts/missing-debian-packages" in dev
    assert "command -v promtool" not in dev  # the old all-or-nothing check is gone
