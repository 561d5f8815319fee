"""Backfill a Prometheus data directory from JSONL events: the history of every ``cs_*``
family and of our recording rules, so the boards show trends on the first day.

1. :func:`stream_app.replay.replay_steps` gives the exposition as of every step; the steps
   of each two-hour TSDB block window go to one OpenMetrics file (:mod:`.openmetrics`),
   turned into a block by ``promtool tsdb create-blocks-from openmetrics`` while the
   replay goes on (promtool reads its whole input into memory and parses it once per
   block window, so small files keep both memory and time linear).
2. The recording rules of ``prometheus/rules/*.yml`` (alerts left out) are evaluated at
   exactly the same steps by a temporary Prometheus started on the directory (loopback, a
   free port, long retention, a look-back of one step), and their samples go through the
   same OpenMetrics -> promtool path. Rules that read other rules run in a later pass,
   after the blocks of the rules they read are in the directory.

   Why not ``promtool tsdb create-blocks-from rules``: Debian's promtool 2.42 took 103 s and
   3.9 GB of memory for ONE rule over 60 days at an hourly interval, wrote nothing at a
   daily one, and evaluates at a hash-based offset in each interval rather than at the
   steps (measured for issue 17; see docs/observability.md#backfill).

The history is "as of each step, with every event known now": a late event is counted
at the step its ``ts`` belongs to, as if it had arrived on time, unlike the live series
scraped from the workers, which only show it from its arrival on.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import yaml

from stream_app.kpi.families import Family
from stream_app.kpi.settings import KpiSettings
from stream_app.openmetrics import OpenMetricsWriter
from stream_app.ports import free_port
from stream_app.replay import StepResult, parse_step, replay_steps, step_times

RULES_DIR = Path(__file__).resolve().parents[1] / "prometheus" / "rules"
#: steps of one UTC day go to one OpenMetrics file: promtool reads a file whole and parses
#: it once per two-hour block window, so a day (12 windows) keeps that cheap
CHUNK_MS = 86_400_000
#: at most this many points per query_range (Prometheus refuses more than 11,000)
MAX_POINTS = 10_000


class BackfillError(Exception):
    """A problem the user can fix (a missing tool, a busy directory): one line."""


@dataclass
class BackfillResult:
    replay: StepResult
    block_files: int
    rule_passes: int
    seconds: float


def tool(name: str, given: str | None = None) -> str:
    path = given or shutil.which(name)
    if not path:
        raise BackfillError(f"{name} not found: install Debian's prometheus package")
    return path


class BlockSink:
    """Families as of each step -> one OpenMetrics file per UTC day -> promtool, one
    promtool at a time running beside the replay."""

    def __init__(self, data_dir: Path, promtool: str, work: Path) -> None:
        self.data_dir = data_dir
        self.promtool = promtool
        self.work = work
        self.window: int | None = None
        self.writer: OpenMetricsWriter | None = None
        self.running: tuple[subprocess.Popen[bytes], Path] | None = None
        self.files = 0

    def __call__(self, at: datetime, families: list[Family]) -> None:
        window = int(at.timestamp() * 1000) // CHUNK_MS
        if window != self.window:
            self._flush()
            self.window = window
            self.writer = OpenMetricsWriter(self.work / f"steps-{window}.om", self.work)
        assert self.writer is not None
        self.writer.add(at, families)

    def _flush(self) -> None:
        if self.writer is None:
            return
        path = self.writer.close()
        self.writer = None
        self.convert(path)

    def convert(self, path: Path) -> None:
        """Start promtool on ``path`` (after the previous one finished)."""
        self._wait()
        argv = [self.promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(path)]
        proc = subprocess.Popen(
            [*argv, str(self.data_dir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self.running = (proc, path)
        self.files += 1

    def _wait(self) -> None:
        if self.running is None:
            return
        proc, path = self.running
        out, _ = proc.communicate()
        self.running = None
        if proc.returncode != 0:
            raise BackfillError(f"promtool refused {path.name}: {out.decode()[-300:].strip()}")
        path.unlink(missing_ok=True)

    def close(self) -> None:
        self._flush()
        self._wait()


def rule_passes(rules_dir: Path) -> list[list[dict[str, Any]]]:
    """The recording rule groups of ``rules_dir``, in passes: a rule reading another
    rule's output comes in a pass after it. Each pass is a list of rule groups."""
    groups = []
    for path in sorted(rules_dir.glob("*.yml")):
        for group in yaml.safe_load(path.read_text()).get("groups", []):
            recording = [r for r in group["rules"] if "record" in r]
            if recording:
                groups.append({**group, "rules": recording})
    names = {r["record"] for g in groups for r in g["rules"]}
    level: dict[str, int] = {}

    def depth(rule: dict[str, Any], seen: frozenset[str] = frozenset()) -> int:
        name = rule["record"]
        if name in level:
            return level[name]
        used = [n for n in names if n != name and n in rule["expr"]]
        deps = [r for g in groups for r in g["rules"] if r["record"] in used]
        d = (
            0
            if not deps
            else 1 + max(depth(r, seen | {name}) for r in deps if r["record"] not in seen)
        )
        level[name] = d
        return d

    passes: list[list[dict[str, Any]]] = []
    for group in groups:
        for rule in group["rules"]:
            d = depth(rule)
            while len(passes) <= d:
                passes.append([])
            by_name = {g["name"]: g for g in passes[d]}
            into = by_name.get(group["name"])
            if into is None:
                into = {k: v for k, v in group.items() if k != "rules"} | {"rules": []}
                passes[d].append(into)
            into["rules"].append(rule)
    return passes


class TemporaryPrometheus:
    """A Prometheus on ``data_dir`` for promtool's rule backfill (loopback only)."""

    def __init__(self, binary: str, data_dir: Path, work: Path, lookback: timedelta) -> None:
        self.port = free_port()
        config = work / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1m\n")
        self.log = work / "prometheus.log"
        seconds = max(int(lookback.total_seconds()), 300)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={data_dir}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=100y",
                    f"--query.lookback-delta={seconds}s",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-1:]
                raise BackfillError(f"Prometheus on the data directory exited: {' '.join(tail)}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp,
            ):
                if resp.status == 200:
                    return
            time.sleep(0.2)  # polling a readiness endpoint, not timing a test
        self.stop()
        raise BackfillError("the temporary Prometheus did not get ready in time")

    def _get(self, path: str, params: dict[str, str]) -> Any:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=120) as resp:  # loopback only
                body = json.load(resp)
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode(errors="replace")
            raise BackfillError(f"Prometheus refused {params.get('query')!r}: {detail}") from None
        return body["data"]

    def evaluate(
        self, expr: str, times: Sequence[datetime], step: timedelta, uniform: bool
    ) -> Series:
        """``expr`` at each of ``times``: labels -> [(ts, value text)]."""
        out: Series = {}

        def add(metric: dict[str, str], points: list[list[Any]]) -> None:
            key = tuple(sorted((k, v) for k, v in metric.items() if k != "__name__"))
            out.setdefault(key, []).extend((float(t), str(v)) for t, v in points)

        if uniform:
            for i in range(0, len(times), MAX_POINTS):
                part = times[i : i + MAX_POINTS]
                params = {
                    "query": expr,
                    "start": repr(part[0].timestamp()),
                    "end": repr(part[-1].timestamp()),
                    "step": f"{int(step.total_seconds())}s",
                }
                data = self._get("query_range", params)
                for result in data["result"]:
                    add(result["metric"], result["values"])
        else:
            for at in times:
                data = self._get("query", {"query": expr, "time": repr(at.timestamp())})
                for result in data["result"]:
                    add(result["metric"], [result["value"]])
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def backfill_rules(
    data_dir: Path,
    steps: Sequence[datetime],
    step: str,
    *,
    promtool: str,
    prometheus: str,
    rules_dir: Path = RULES_DIR,
    work: Path,
) -> int:
    """Samples of every recording rule at every step, as blocks in ``data_dir``; returns
    the number of passes. A temporary Prometheus on ``data_dir`` evaluates them at exactly
    the steps' times (query_range for minute and hour steps, one instant query a step for
    calendar days, which are not all 24 hours long)."""
    n, unit = parse_step(step)
    length = (
        timedelta(minutes=n) if unit == "m" else timedelta(hours=n * (24 if unit == "d" else 1))
    )
    passes = rule_passes(rules_dir)
    for number, groups in enumerate(passes):
        out_dir = work / f"rule-blocks-{number}"
        out_dir.mkdir()
        sink = BlockSink(out_dir, promtool, work)
        server = TemporaryPrometheus(prometheus, data_dir, work, length)
        try:
            by_day: dict[int, list[datetime]] = {}
            for at in steps:
                by_day.setdefault(int(at.timestamp() * 1000) // CHUNK_MS, []).append(at)
            for day, chunk in sorted(by_day.items()):
                path = work / f"rules-{number}-{day}.om"
                with path.open("w", encoding="utf-8") as out:
                    for group in groups:
                        for rule in group["rules"]:
                            series = server.evaluate(rule["expr"], chunk, length, unit != "d")
                            write_rule_family(out, rule, series)
                    out.write("# EOF\n")
                sink.convert(path)
            sink.close()
        finally:
            server.stop()
        for block in sorted(out_dir.iterdir()):
            if block.is_dir():
                shutil.move(str(block), data_dir / block.name)
    return len(passes)


Series = dict[tuple[tuple[str, str], ...], list[tuple[float, str]]]


def write_rule_family(out: IO[str], rule: dict[str, Any], series: Series) -> None:
    """One recording rule's samples as an OpenMetrics gauge family, series by series."""
    name = rule["record"]
    extra = {str(k): str(v) for k, v in (rule.get("labels") or {}).items()}
    out.write(f"# HELP {name} recording rule (backfilled)\n# TYPE {name} gauge\n")
    for labels, points in sorted(series.items()):
        merged = sorted({**dict(labels), **extra}.items())
        text = ",".join(f'{k}="{_escape(v)}"' for k, v in merged)
        body = f"{{{text}}}" if text else ""
        for ts, value in points:
            stamp = str(int(ts)) if ts == int(ts) else repr(ts)
            out.write(f"{name}{body} {_om_value(value)} {stamp}\n")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _om_value(text: str) -> str:
    """Prometheus' JSON number text -> OpenMetrics ("+Inf", "NaN" are spelled alike)."""
    return text


def backfill(
    paths: Sequence[Path | str],
    data_dir: Path | str,
    settings: KpiSettings,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    step: str = "1h",
    progress: IO[str] | None = None,
    promtool: str | None = None,
    prometheus: str | None = None,
    rules_dir: Path = RULES_DIR,
) -> BackfillResult:
    """Replay ``paths`` step by step into TSDB blocks in ``data_dir``, then the rules."""
    started = time.monotonic()
    parse_step(step)
    promtool_bin = tool("promtool", promtool)
    prometheus_bin = tool("prometheus", prometheus)
    target = Path(data_dir)
    if (target / "lock").exists() and _locked(target / "lock"):
        raise BackfillError(f"{target} is in use by a running Prometheus: stop it first")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cs-backfill-") as tmp:
        work = Path(tmp)
        sink = BlockSink(target, promtool_bin, work)
        try:
            result = replay_steps(
                paths, settings, sink, start=start, end=end, step=step, progress=progress
            )
        finally:
            sink.close()
        if progress is not None:
            progress.write("backfill: evaluating the recording rules over the history\n")
        assert result.first is not None and result.last is not None
        steps = list(step_times(result.first, result.last, step, settings.tz))
        passes = backfill_rules(
            target,
            steps,
            step,
            promtool=promtool_bin,
            prometheus=prometheus_bin,
            rules_dir=rules_dir,
            work=work,
        )
    return BackfillResult(result, sink.files, passes, time.monotonic() - started)


def _locked(lock: Path) -> bool:
    """Whether a Prometheus holds ``lock`` (flock), not just a stale file."""
    import fcntl

    with lock.open("rb") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
        return False
