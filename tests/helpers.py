"""Small builders shared by the unit tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    """This process's resident memory (VmRSS), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def in_fresh_interpreter(function: str, env: dict[str, str] | None = None) -> list[str]:
    """Call ``function`` (``"module:name"``) in a new Python process (this environment
    plus ``env``) and return the lines it printed, what it returned last. For what
    depends on the process's allocator or its heap's history."""
    module, name = function.split(":")
    done = subprocess.run(
        [sys.executable, "-c", f"from {module} import {name}; print({name}())"],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def ev(
    type_: str = "session_started",
    *,
    eid: str,
    ts: str,
    account: str = "acme",
    **fields: Any,
) -> bytes:
    """One event as the bytes of a Kafka message / JSONL line."""
    body: dict[str, Any] = {"event_id": eid, "type": type_, "ts": ts, "account_id": account}
    if type_ in (
        "session_started",
        "user_signed_up",
        "referral_sent",
        "feature_used",
        "milestone_reached",
        "survey_answered",
    ):
        body.setdefault("user_id", "u1")
    body.update(fields)
    return orjson.dumps(body)


def samples(text: bytes) -> dict[str, float]:
    """Prometheus text -> {'name{labels}': value} (comments dropped)."""
    out: dict[str, float] = {}
    for line in text.decode().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out
