"""Real Prometheus, Alertmanager and a webhook receiver on free loopback ports.

Each :class:`PromStack` runs in its own temporary directory: a Prometheus that scrapes
the given workers every second and evaluates the project's rule files every second, an
Alertmanager (clustering off) with the project's ``alertmanager/alertmanager.yml``
pointed at ``alertmanager/webhook_log.py``, which appends what it receives to a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from tests.worker_proc import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "prometheus" / "rules"
ALERTMANAGER_CONFIG = ROOT / "alertmanager" / "alertmanager.yml"
WEBHOOK = ROOT / "alertmanager" / "webhook_log.py"
JOB = "stream-app"

_UNITS_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}
_DURATION = re.compile(r"(?:\d+(?:ms|[smhdwy]))+")
_PART = re.compile(r"(\d+)(ms|[smhdwy])")
# a range or subquery selector, and an offset
_RANGE = re.compile(r"\[((?:\d+(?:ms|[smhdwy]))+)(?::((?:\d+(?:ms|[smhdwy]))+))?\]")
_OFFSET = re.compile(r"(offset\s+)((?:\d+(?:ms|[smhdwy]))+)")


#: names of metrics and recording rules in a PromQL expression
METRIC_NAME = re.compile(r"\b(cs:[a-z0-9_:]+|cs_[a-z0-9_]+|stream_app_[a-z0-9_]+|up)\b")


def rules() -> list[dict[str, Any]]:
    """Every rule of prometheus/rules/*.yml, with its group's name under ``group``."""
    out = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            out.extend({**rule, "group": group["name"]} for rule in group["rules"])
    return out


def recording_rules() -> dict[str, str]:
    """Recording rule name -> expression."""
    return {rule["record"]: rule["expr"] for rule in rules() if "record" in rule}


def raw_metrics(expr: str, by_name: dict[str, str]) -> set[str]:
    """The exported metric names ``expr`` needs, through the recording rules it uses."""
    out: set[str] = set()
    for name in METRIC_NAME.findall(expr):
        out |= raw_metrics(by_name[name], by_name) if name in by_name else {name}
    return out


def duration_ms(text: str) -> int:
    if not _DURATION.fullmatch(text):
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNITS_MS[unit] for n, unit in _PART.findall(text))


def scale_duration(text: str, factor: int) -> str:
    ms = duration_ms(text)
    if ms % factor:
        raise ValueError(f"{text} is not a whole number of milliseconds / {factor}")
    return f"{ms // factor}ms"


def scale_expr(expr: str, factor: int) -> str:
    """``expr`` with the durations of its ranges, subqueries and offsets divided."""

    def scale_range(m: re.Match[str]) -> str:
        step = f":{scale_duration(m.group(2), factor)}" if m.group(2) else ""
        return f"[{scale_duration(m.group(1), factor)}{step}]"

    expr = _RANGE.sub(scale_range, expr)
    return _OFFSET.sub(lambda m: m.group(1) + scale_duration(m.group(2), factor), expr)


def scaled_rules(source: Path, target: Path, factor: int) -> Path:
    """``source`` with every duration (ranges, offsets, ``for``) divided by ``factor``."""
    doc = yaml.safe_load(source.read_text())
    for group in doc["groups"]:
        if "interval" in group:
            group["interval"] = scale_duration(group["interval"], factor)
        for rule in group["rules"]:
            rule["expr"] = scale_expr(rule["expr"], factor)
            if "for" in rule:
                rule["for"] = scale_duration(rule["for"], factor)
    target.write_text(yaml.safe_dump(doc, sort_keys=False))
    return target


class Service:
    """One subprocess with its log in the stack's directory."""

    def __init__(self, name: str, argv: Sequence[str], workdir: Path) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                list(argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                start_new_session=True,
            )

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-n:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def http_get(url: str, timeout: float = 5) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # loopback only
            body: bytes = resp.read()
            return body
    except urllib.error.HTTPError as exc:  # keep Prometheus' explanation
        raise RuntimeError(f"{url}: {exc.code} {exc.read()[:500]!r}") from exc


class PromStack:
    """Prometheus + Alertmanager + webhook receiver for ``targets`` (host:port)."""

    def __init__(self, workdir: Path, targets: Iterable[str], rule_files: Iterable[Path]) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.targets = list(targets)
        self.rule_files = [Path(p).resolve() for p in rule_files]
        self.prom_port, self.am_port, self.hook_port = free_port(), free_port(), free_port()
        self.notifications = self.dir / "notifications.jsonl"
        self.services: list[Service] = []

    @property
    def prom_url(self) -> str:
        return f"http://127.0.0.1:{self.prom_port}"

    def _write_configs(self) -> tuple[Path, Path]:
        prom = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in self.rule_files],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{self.am_port}"]}]}]
            },
            "scrape_configs": [
                {
                    "job_name": JOB,
                    "metrics_path": "/metrics",
                    "scrape_interval": "1s",
                    "static_configs": [{"targets": self.targets}],
                }
            ],
        }
        am = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
        am["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
        for receiver in am["receivers"]:
            for hook in receiver.get("webhook_configs", []):
                hook["url"] = f"http://127.0.0.1:{self.hook_port}/alerts"
        prom_path, am_path = self.dir / "prometheus.yml", self.dir / "alertmanager.yml"
        prom_path.write_text(yaml.safe_dump(prom, sort_keys=False))
        am_path.write_text(yaml.safe_dump(am, sort_keys=False))
        return prom_path, am_path

    def start(self) -> PromStack:
        prom_cfg, am_cfg = self._write_configs()
        self.services.append(
            Service(
                "webhook",
                [
                    sys.executable,
                    str(WEBHOOK),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.hook_port),
                    "--out",
                    str(self.notifications),
                ],
                self.dir,
            )
        )
        self.services.append(
            Service(
                "alertmanager",
                [
                    "prometheus-alertmanager",
                    f"--config.file={am_cfg}",
                    f"--storage.path={self.dir / 'am-data'}",
                    f"--web.listen-address=127.0.0.1:{self.am_port}",
                    "--cluster.listen-address=",
                    "--log.level=warn",
                ],
                self.dir,
            )
        )
        self.services.append(
            Service(
                "prometheus",
                [
                    "prometheus",
                    f"--config.file={prom_cfg}",
                    f"--storage.tsdb.path={self.dir / 'prom-data'}",
                    f"--web.listen-address=127.0.0.1:{self.prom_port}",
                    "--log.level=warn",
                ],
                self.dir,
            )
        )
        for url in (
            f"http://127.0.0.1:{self.hook_port}/",
            f"http://127.0.0.1:{self.am_port}/-/ready",
            f"{self.prom_url}/-/ready",
        ):
            wait_for(lambda url=url: self._ready(url), 60, f"{url} ready")
        return self

    def _ready(self, url: str) -> bool:
        for service in self.services:
            service.check()
        return bool(http_get(url, timeout=2))

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def __enter__(self) -> PromStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {s.name}\n{s.log_tail()}" for s in self.services)

    # -- the HTTP API ----------------------------------------------------------
    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query: the API's result list (``metric`` labels, ``value`` [ts, text])."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        body = json.loads(
            http_get(f"{self.prom_url}/api/v1/query?" + urllib.parse.urlencode(params))
        )
        if body.get("status") != "success":
            raise RuntimeError(f"query {expr!r} failed: {body}")
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def values(self, expr: str, at: float | None = None) -> dict[frozenset[tuple[str, str]], float]:
        """Instant query as {labels without __name__: value}."""
        return {
            frozenset((k, v) for k, v in r["metric"].items() if k != "__name__"): float(
                r["value"][1]
            )
            for r in self.query(expr, at)
        }

    def received(self) -> list[dict[str, Any]]:
        """Webhook payloads Alertmanager delivered so far."""
        if not self.notifications.exists():
            return []
        lines = self.notifications.read_text().splitlines()
        return [json.loads(line)["payload"] for line in lines if line.strip()]
