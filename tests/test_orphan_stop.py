"""A process of ``stream-app worker --processes N`` whose supervisor died keeps the
supervisor's stop deadline itself (``leave_when_orphaned``): a graceful stop that hangs
ends in an exit all the same; one that ends in time is not cut short."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from stream_app.worker.processes import ORPHAN_EXIT_CODE

# the process: SIGTERM ignored when asked (a graceful stop that never ends), the watcher
# on the ``go`` descriptor, then it waits for ``done`` (end of file: a graceful stop ends)
CHILD = """
import os, signal, sys
from stream_app.worker.processes import leave_when_orphaned
go, done, deadline, hang = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
if hang == "hang":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
leave_when_orphaned(go, deadline)
print("watching", flush=True)
os.read(done, 1)
sys.exit(0)
"""


def start(deadline_s: float, hang: bool) -> tuple[subprocess.Popen[str], int, int]:
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            str(go_r),
            str(done_r),
            str(deadline_s),
            "hang" if hang else "-",
        ],
        pass_fds=(go_r, done_r),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(go_r)
    os.close(done_r)
    assert proc.stdout is not None and proc.stdout.readline() == "watching\n"
    return proc, go_w, done_w


def test_a_hung_stop_ends_at_the_deadline_once_the_supervisor_is_gone() -> None:
    proc, go_w, done_w = start(0.5, hang=True)
    try:
        assert proc.poll() is None  # the supervisor is there: nothing happens
        os.close(go_w)  # the supervisor dies: the kernel closes its end
        assert proc.wait(30) == ORPHAN_EXIT_CODE
        assert proc.stderr is not None
        err = proc.stderr.read()
        assert "the supervisor is gone and this process did not stop within 0.5 s" in err
        assert "Traceback" not in err
    finally:
        os.close(done_w)
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("supervisor_gone", [True, False])
def test_a_stop_in_time_keeps_its_own_exit_code(supervisor_gone: bool) -> None:
    proc, go_w, done_w = start(120.0, hang=False)
    try:
        if supervisor_gone:
            os.close(go_w)
        os.close(done_w)  # the graceful stop ends
        assert proc.wait(30) == 0
    finally:
        if not supervisor_gone:
            os.close(go_w)
        proc.kill()
        proc.wait()
