"""``./dev``'s bootstrap: which Debian packages it installs, each tool checked on its own.

``scripts/missing-debian-packages`` runs with PATH pointing at a directory of stub
executables, so the test sees exactly what a machine with those tools would install
(nothing is installed)."""

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


def missing(tmp_path: Path, present: tuple[str, ...]) -> list[str]:
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for tool in present:
        stub = stubs / tool
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    result = subprocess.run(
        [BASH, str(SCRIPT)], env={"PATH": str(stubs)}, capture_output=True, text=True, check=True
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


def test_dev_bootstraps_through_the_detection() -> None:
    dev = (ROOT / "dev").read_text()
    assert "scripts/missing-debian-packages" in dev
    assert "command -v promtool" not in dev  # the old all-or-nothing check is gone
