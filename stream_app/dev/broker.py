"""A real single-node Apache Kafka broker (KRaft, combined broker+controller) on 127.0.0.1.

Used by the tests, the local "embedded" run and CI.  Needs Java 17+ and, on first use, Maven
(jars come from Maven Central via ``kafka/pom.xml``, see :func:`ensure_kafka_jars`).
``python -m stream_app.dev.broker`` runs one in the foreground.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import concurrent.futures
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

__all__ = ["KAFKA_VERSION", "LocalKafka", "create_topics", "ensure_kafka_jars", "main"]

KAFKA_VERSION = "4.4.0"  # keep in sync with kafka/pom.xml
KAFKA_DIR = Path(__file__).resolve().parents[2] / "kafka"
_MARKER_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"
_HOST = "127.0.0.1"
_LIVE: set[LocalKafka] = set()  # started and not stopped: killed + cleaned up at exit
_PROPERTIES = """\
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@{host}:{cport}
listeners=PLAINTEXT://{host}:{port},CONTROLLER://{host}:{cport}
advertised.listeners=PLAINTEXT://{host}:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={log_dir}
num.partitions=1
group.initial.rebalance.delay.ms=0
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
"""


def ensure_kafka_jars(lib_dir: Path | None = None) -> Path:
    """Return the jar dir (``lib_dir``, else ``$CS_KAFKA_LIB``, else ``<repo>/kafka/lib``),
    first filling it with ``mvn dependency:copy-dependencies`` if Kafka is missing."""
    lib = Path(lib_dir or os.environ.get("CS_KAFKA_LIB") or KAFKA_DIR / "lib").resolve()
    if (lib / _MARKER_JAR).is_file():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    with open(lib.parent / f".{lib.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # blocks while another process downloads
        if (lib / _MARKER_JAR).is_file():
            return lib
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError(f"Kafka jars missing in {lib} and `mvn` is not on PATH")
        with tempfile.TemporaryDirectory(dir=lib.parent, prefix=f".{lib.name}-") as tmp:
            cmd = [mvn, "-q", "-B", "-f", str(KAFKA_DIR / "pom.xml")]
            cmd += ["dependency:copy-dependencies", f"-DoutputDirectory={tmp}"]
            cmd += ["-DincludeScope=runtime"]
            res = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if res.returncode != 0 or not (Path(tmp) / _MARKER_JAR).is_file():
                out = (res.stdout + res.stderr)[-4000:]
                raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}):\n{out}")
            lib.mkdir(exist_ok=True)
            for stale in lib.glob("*.jar"):  # e.g. jars of a previous Kafka version
                if not (Path(tmp) / stale.name).exists():
                    stale.unlink()
            # Marker jar last, so an interrupted copy is redone next time.
            for jar in sorted(Path(tmp).glob("*.jar"), key=lambda p: p.name == _MARKER_JAR):
                os.replace(jar, lib / jar.name)
    return lib


def _free_ports() -> tuple[int, int]:
    with socket.socket() as a, socket.socket() as b:  # both open at once: distinct ports
        a.bind((_HOST, 0))
        b.bind((_HOST, 0))
        return a.getsockname()[1], b.getsockname()[1]


def _answers(bootstrap: str, cluster_id: str) -> bool:
    """True once *our* broker (matching cluster id) answers a metadata request."""
    try:
        socket.create_connection((_HOST, int(bootstrap.rsplit(":", 1)[1])), timeout=1).close()
    except OSError:
        return False

    async def probe() -> bool:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=4000)
        try:
            async with asyncio.timeout(5):
                await admin.start()
                info = await admin.describe_cluster()
                return bool(info["brokers"]) and info["cluster_id"] == cluster_id
        finally:
            await admin.close()

    # Private thread + event loop: works from sync code and from inside a running loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        try:
            return pool.submit(asyncio.run, probe()).result()
        except Exception:
            return False


class LocalKafka:
    """A single-node Kafka broker in a child JVM (own process group), loopback only."""

    def __init__(
        self,
        data_dir: Path | None = None,
        port: int | None = None,
        java: str = "java",
        heap: str = "512m",
    ) -> None:
        self.data_dir = Path(data_dir).resolve() if data_dir is not None else None
        self.port = port
        self.controller_port: int | None = None
        self.java, self.heap = java, heap
        self._owns_dir, self._auto_ports = data_dir is None, port is None
        self._proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None
        self._lock = threading.RLock()

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise RuntimeError("LocalKafka has not been started")
        return f"{_HOST}:{self.port}"

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 60) -> None:
        """Start the JVM; return once the broker answers metadata requests."""
        with self._lock:
            if self.is_running():
                raise RuntimeError(f"broker already running at {self.bootstrap}")
            lib = ensure_kafka_jars()
            if self.data_dir is None:
                self.data_dir = Path(tempfile.mkdtemp(prefix="cs-kafka-"))
            self.data_dir.mkdir(parents=True, exist_ok=True)
            _LIVE.add(self)
            retry = self._auto_ports and self.controller_port is None  # restart: same ports
            for attempt in range(3):
                if self.controller_port is None:
                    self.controller_port, free = _free_ports()
                    self.port = free if self.port is None else self.port
                try:
                    return self._launch(lib, self.data_dir, timeout)
                except RuntimeError as exc:  # lost a race for an auto-picked port: retry
                    if not retry or attempt == 2 or "already in use" not in str(exc):
                        raise
                    self.port = self.controller_port = None

    def _launch(self, lib: Path, data: Path, timeout: float) -> None:
        kraft, props = data / "kraft", data / "server.properties"
        cport = self.controller_port
        props.write_text(_PROPERTIES.format(host=_HOST, port=self.port, cport=cport, log_dir=kraft))
        java = [self.java, "-cp", str(lib / "*")]
        if not (kraft / "meta.properties").is_file():  # format once, so restart() keeps data
            # Same shape as `StorageTool random-uuid`: base64url, never starting with "-".
            cid = "A" + base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[1:22]
            fmt = [*java, "kafka.tools.StorageTool", "format", "--ignore-formatted", "-t", cid]
            res = subprocess.run([*fmt, "-c", str(props)], capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"kafka storage format failed:\n{res.stdout}{res.stderr}")
        meta = (kraft / "meta.properties").read_text().splitlines()
        cluster_id = next(ln.split("=", 1)[1] for ln in meta if ln.startswith("cluster.id="))
        log4j = [f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}"]
        log4j += [f"-Dkafka.logs.dir={data / 'logs'}"]
        cmd = [java[0], f"-Xmx{self.heap}", *log4j, *java[1:], "kafka.Kafka", str(props)]
        self._out = open(data / "broker.out", "ab")  # noqa: SIM115 - closed in _signal()
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not _answers(self.bootstrap, cluster_id):
            try:
                rc = self._proc.wait(timeout=0.2)  # the poll interval; also notices an exit
            except subprocess.TimeoutExpired:
                if time.monotonic() < deadline:
                    continue
                self._signal(signal.SIGKILL, 5)
                raise TimeoutError(f"Kafka not ready after {timeout}s{self._tails()}") from None
            self._signal(signal.SIGKILL, 5)
            raise RuntimeError(f"Kafka exited with code {rc} during startup{self._tails()}")

    def _tails(self, max_bytes: int = 6000) -> str:
        """The end of the JVM's stdout/stderr and of the log4j broker log, for errors."""
        d = self.data_dir or Path("/nonexistent")
        return "".join(
            f"\n--- tail of {p} ---\n" + p.read_bytes()[-max_bytes:].decode(errors="replace")
            for p in (d / "broker.out", d / "logs" / "server.log")
            if p.is_file() and p.stat().st_size
        )

    def _signal(self, sig: signal.Signals, timeout: float) -> None:
        """Send ``sig`` to the broker's process group; SIGKILL if still alive after timeout."""
        if self._proc is not None and self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, sig)
                try:
                    self._proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                    self._proc.wait()
            except ProcessLookupError:
                pass
        if self._out is not None:
            self._out.close()
            self._out = None

    def stop(self, timeout: float = 20, keep_data: bool = False) -> None:
        """Graceful shutdown (SIGTERM, SIGKILL after ``timeout``); removes a temp data dir
        unless ``keep_data`` (then :meth:`restart` brings back the same broker)."""
        with self._lock:
            self._signal(signal.SIGTERM, timeout)
            self._proc = None
            if keep_data:
                return
            _LIVE.discard(self)
            if self._owns_dir and self.data_dir is not None:
                shutil.rmtree(self.data_dir, ignore_errors=True)
                self.data_dir = None
                if self._auto_ports:
                    self.port = self.controller_port = None

    def kill(self) -> None:
        """SIGKILL the broker, like a crash; the data is kept for :meth:`restart`."""
        with self._lock:
            self._signal(signal.SIGKILL, 10)

    def restart(self, timeout: float = 60) -> None:
        """Stop (gracefully, if running) and start again with the same ports and data."""
        with self._lock:
            self._signal(signal.SIGTERM, 20)
            self.start(timeout)

    def __enter__(self) -> LocalKafka:
        if not self.is_running():
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@atexit.register
def _kill_leftovers() -> None:
    for broker in list(_LIVE):
        broker.kill()
        broker.stop()


async def create_topics(
    bootstrap: str,
    names: Sequence[str],
    partitions: int,
    config: Mapping[str, str] | None = None,
    *,
    replication_factor: int = 1,
    timeout: float = 30,
) -> None:
    """Create topics (existing ones are left as they are) and wait until every partition of
    every topic has a leader."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        async with asyncio.timeout(timeout):
            await admin.start()
            conf = dict(config or {})
            new = [NewTopic(n, partitions, replication_factor, topic_configs=conf) for n in names]
            resp: Any = await admin.create_topics(new, timeout_ms=int(timeout * 1000))
            for topic, code, *msg in resp.topic_errors:
                if code not in (0, TopicAlreadyExistsError.errno):
                    raise for_code(code)(f"creating topic {topic!r}: {msg}")
            while True:
                meta = await admin.describe_topics(list(names))
                ok = [t for t in meta if t["error_code"] == 0 and t["partitions"]]
                if len(ok) == len(set(names)) and all(
                    p["leader"] >= 0 for t in ok for p in t["partitions"]
                ):
                    return
                await asyncio.sleep(0.1)
    finally:
        await admin.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run a broker in the foreground until Ctrl-C / SIGTERM."""
    ap = argparse.ArgumentParser(
        prog="python -m stream_app.dev.broker", description="Run a single-node Kafka on 127.0.0.1."
    )
    ap.add_argument("--port", type=int, help="client port (default: a free one)")
    ap.add_argument("--data-dir", type=Path, help="persistent data dir (default: temp dir)")
    ap.add_argument("--heap", default="512m", help="JVM -Xmx (default: 512m)")
    args = ap.parse_args(argv)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    broker = LocalKafka(data_dir=args.data_dir, port=args.port, heap=args.heap)
    try:
        broker.start()
        print(f"Kafka {KAFKA_VERSION} ready, bootstrap: {broker.bootstrap}", flush=True)
        while not stopping.wait(0.5):
            if not broker.is_running():
                print(f"Kafka exited unexpectedly{broker._tails()}", flush=True)
                return 1
        print("Stopping Kafka...", flush=True)
        return 0
    finally:
        broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
