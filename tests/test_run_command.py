"""The README's run command: the embedded pipeline starts, shows live KPIs, and stops clean."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys

import pytest

from tests.worker_proc import free_port

pytestmark = [pytest.mark.integration]


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_run_shows_live_kpis_and_leaves_nothing_running() -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "stream_app.cli", "run", "--duration", "25"]
    cmd += ["--accounts", "60", "--rate", "20000", "--refresh", "1", "--web-port", str(port)]
    collect_port = free_port()
    env = {**os.environ, "CS_COLLECT_PORT": str(collect_port)}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "\x1b" not in proc.stdout and "\r" not in proc.stdout  # piped: plain lines
    assert "loading history:" in proc.stdout
    last = proc.stdout.split("stream-app live")[-1]
    accepted = int(last.split("events accepted")[1].split()[0].replace(",", ""))
    triple = last.split("DAU / WAU / MAU")[1].split("\n")[0].split("/")
    mau = int(triple[2].split()[0].replace(",", ""))
    assert accepted > 1000, last
    assert mau > 50, last
    assert "stopped: worker, generator and Kafka are down." in proc.stdout
    kafka_port = int(re.search(r"Kafka 127\.0\.0\.1:(\d+)", proc.stdout).group(1))  # type: ignore[union-attr]
    assert not _listening(kafka_port), "Kafka still running"
    assert not _listening(port), "worker still serving /metrics"
    assert f"collector: POST http://127.0.0.1:{collect_port}/v1/events" in proc.stdout
    assert not _listening(collect_port), "collector still serving"
