"""Run ``stream-app worker`` as a real subprocess for integration tests.

Workers log at ``warning`` (``CS_TEST_LOGLEVEL=info`` shows Faust's rebalances and
recoveries); a :func:`wait_for` that times out adds the log tail of every worker started
and not stopped to its error."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from stream_app.contract import TOPIC_ROLES, TOPICS
from stream_app.dev.live_view import scrape
from stream_app.ports import free_port

T = TypeVar("T")

#: workers started and not stopped yet: a wait that times out shows their logs
_RUNNING: list[WorkerProcess] = []


def wait_for(
    condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.2
) -> T:
    """Poll ``condition`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception as exc:  # the worker may not listen yet
            last_error = exc
            value = None
        if value:
            return value
        time.sleep(interval)  # polling interval of a condition wait, not a fixed wait
    logs = "".join(
        f"\n--- log of the worker on port {w.port} (last 6000 characters) ---\n{w.log_tail(6000)}"
        for w in _RUNNING
    )
    raise TimeoutError(
        f"timed out after {timeout}s waiting for {what} (last error: {last_error}){logs}"
    )


class WorkerProcess:
    """One ``stream-app worker`` process with its own app id, topics and port."""

    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        tmp: Path,
        partitions: int = 4,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.log_path = tmp / f"worker-{self.port}.log"
        self.env = dict(os.environ)
        self.env.update(
            {
                "CS_BROKER": f"kafka://{bootstrap}",
                "CS_APP_ID": f"{prefix}-app",
                "CS_PARTITIONS": str(partitions),
                **{f"CS_TOPIC_{t.role.upper()}": f"{prefix}-{t.default_name}" for t in TOPICS},
                "CS_TOPIC_DEAD_LETTERS": f"{prefix}-dead-letters",
                "CS_WEB_PORT": str(self.port),
                "CS_DATA_DIR": str(tmp / f"data-{self.port}"),
                "CS_SESSION_TIMEOUT_S": "6",
                "CS_COMMIT_INTERVAL_S": "0.5",
            }
        )
        self.env.update(env or {})
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def topics(self) -> dict[str, str]:
        """Topic role -> this worker's topic name, for every topic of the contract."""
        return {role: self.env[f"CS_TOPIC_{role.upper()}"] for role in TOPIC_ROLES}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "stream_app",
                "worker",
                "--loglevel",
                os.environ.get("CS_TEST_LOGLEVEL", "warning"),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        _RUNNING.append(self)
        return self

    def run_to_exit(self, timeout: float) -> int:
        """Start the worker and wait for it to exit by itself; its exit code (stopped,
        and the wait failed, after ``timeout`` seconds)."""
        self.start()
        assert self.proc is not None
        try:
            return self.proc.wait(timeout)
        finally:
            self.stop()

    def metrics(self) -> dict[str, float]:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"worker is not running; log:\n{self.log_tail()}")
        return scrape(self.url)

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self in _RUNNING:
            _RUNNING.remove(self)
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def handled(metrics: dict[str, float]) -> float:
    """Messages the worker has accounted for: accepted + duplicates + rejected."""
    return sum(
        v
        for k, v in metrics.items()
        if k.startswith(
            ("cs_events_total", "cs_events_duplicate_total", "cs_events_rejected_total")
        )
    )
