"""The collector of ``stream-app run``: a ``stream-app collect`` process beside the worker,
on the same broker and topics (its port: ``CS_COLLECT_PORT``, default 6080; any browser
origin is allowed unless ``CS_COLLECT_ORIGINS`` says otherwise: it listens on loopback)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from stream_app.collect.settings import CollectSettings
from stream_app.settings import Settings, topic_field


@dataclass
class LocalCollector:
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (the collector flushes what it accepted), SIGKILL after ``timeout``."""
        if self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def start_collector(settings: Settings, workdir: Path) -> LocalCollector:
    """Start ``stream-app collect`` for the local pipeline; its output goes to a log file."""
    env = dict(os.environ)
    env["CS_BROKER"] = settings.broker
    for role, name in settings.topic_names().items():
        env[f"CS_{topic_field(role).upper()}"] = name
    env.setdefault("CS_COLLECT_ORIGINS", "*")
    port = CollectSettings().collect_port  # CS_COLLECT_PORT or the default
    env["CS_COLLECT_PORT"] = str(port)
    log_path = workdir / "collector.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stream_app.cli", "collect"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return LocalCollector(proc, f"http://127.0.0.1:{port}", log_path)
