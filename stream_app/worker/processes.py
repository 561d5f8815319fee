"""``stream-app worker --processes N``: N worker processes of one consumer group behind one
port, so that one command uses every core of a machine.

A Python process applies events on one core. The Kafka way to use more is more members of
the consumer group, each owning some partitions; this supervisor starts them for you:

- N ``stream-app worker`` processes with the same settings, each on its own local port
  (any free one) and data directory (``<data-dir>/process-<i>``). Kafka shares the
  partitions among them as among workers on different machines; nothing is shared in memory.
- On ``--web-host``/``--web-port`` it serves ``/metrics`` (the processes' pages merged:
  every sample summed, as Prometheus's ``sum`` over N scrape targets would;
  :mod:`stream_app.worker.exposition_sum`) and ``/progress`` (merged the same way, with
  each process under ``processes``). Either answers 503 while a process does not answer,
  rather than a partial sum Prometheus would read as a counter reset. Every other path
  (``/accounts``, ``/visitors``) goes to one process, which routes it to the owner of the
  key as usual.
- The processes join the group together the first time (each waits, once built, until
  all are: :func:`wait_for_siblings`), so the group is balanced from its first
  assignment instead of one process taking every partition for the first seconds.
- A process that exits is started again (after 1 s, up to 30 s when it keeps failing);
  meanwhile the group gives its partitions to the others, and the new process recovers
  their state from the changelog. A process that exits with code 2 (a set-up the worker
  must not run on, e.g. partition counts that differ) stops them all: exit code 2.
- SIGTERM or SIGINT stops every process (each leaves the group and commits). Each process
  gets SIGTERM when the supervisor dies, kill -9 included (Linux ``PR_SET_PDEATHSIG``).
  With no supervisor left to send SIGKILL after ``STOP_TIMEOUT_S``, a process keeps that
  deadline itself (:func:`leave_when_orphaned`): one whose graceful stop hangs leaves
  anyway, as after a kill -9, which the changelog and the committed offsets make safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from stream_app.commands.errors import UsageError
from stream_app.ports import free_port
from stream_app.worker.exposition_sum import merge_expositions, merge_progress

log = logging.getLogger("stream_app.worker.processes")

#: set in each process's environment: the supervisor's pid (see :func:`die_with_supervisor`)
SUPERVISOR_ENV = "CS_SUPERVISOR_PID"
ASK_TIMEOUT_S = 10.0  # a process's answer to /metrics or /progress
RESTART_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0)  # after the 1st, 2nd, ... exit in a row
STABLE_S = 60.0  # a process up this long starts again at the first delay when it exits
STOP_TIMEOUT_S = 60.0  # SIGTERM -> SIGKILL
#: "<ready fd>,<go fd>" in a process's environment (see :func:`wait_for_siblings`)
START_ENV = "CS_SUPERVISOR_START_FDS"
FIRST_START_WAIT_S = 60.0  # the longest the first processes wait for a slow sibling
#: a process whose supervisor died leaves this long after it (its graceful stop's time)
ORPHAN_STOP_S = 30.0
#: exit code of a process that left because its graceful stop outlasted ``ORPHAN_STOP_S``
ORPHAN_EXIT_CODE = 75
PR_SET_PDEATHSIG = 1


def die_with_supervisor() -> None:
    """In a process the supervisor started: ask Linux for SIGTERM when the supervisor
    dies, and stop now if it already has (it died before this call)."""
    parent = os.environ.get(SUPERVISOR_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != int(parent):
        os.kill(os.getpid(), signal.SIGTERM)


def wait_for_siblings() -> None:
    """In a process the supervisor started, once it is built and before it joins the
    consumer group: say so, and wait for the supervisor's go. At the first start the
    supervisor says go when every process is ready, so that they join the group within
    moments of each other: one started seconds earlier would take every partition, apply
    a few seconds of events and hand half of them over in a second rebalance, the work
    since its last commit done twice (72,000 messages in one bench run)."""
    spec = os.environ.pop(START_ENV, None)
    if not spec:
        return
    ready, go = (int(fd) for fd in spec.split(","))
    os.write(ready, b"1")
    os.close(ready)
    os.read(go, 1)  # b"" when the supervisor is gone (then SIGTERM follows: see above)
    leave_when_orphaned(go, ORPHAN_STOP_S)


def leave_when_orphaned(go: int, deadline_s: float) -> threading.Thread:
    """Watch the supervisor's end of the ``go`` pipe, which it holds open while this
    process runs and never writes to again: end of file means the supervisor is gone
    (the kernel closed its descriptors, kill -9 included). The SIGTERM Linux sends then
    starts the graceful stop; if this process is still here ``deadline_s`` later, it
    leaves with ``ORPHAN_EXIT_CODE``, as the supervisor's SIGKILL would have made it."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(go, 1):
                pass
        os.close(go)
        time.sleep(deadline_s)  # the graceful stop's time; a daemon thread ends with it
        print(
            f"stream-app worker: the supervisor is gone and this process did not stop "
            f"within {deadline_s:g} s: leaving now",
            file=sys.stderr,
            flush=True,
        )
        os._exit(ORPHAN_EXIT_CODE)

    thread = threading.Thread(target=watch, name="leave-when-orphaned", daemon=True)
    thread.start()
    return thread


def local_address(host: str) -> str:
    """Where this machine reaches a server bound to ``host``."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


@dataclass
class Child:
    """One worker process of the supervisor."""

    index: int
    port: int
    data_dir: str
    proc: asyncio.subprocess.Process | None = None
    starts: int = 0

    def summary(self) -> dict[str, Any]:
        pid = self.proc.pid if self.proc is not None else None
        return {"index": self.index, "pid": pid, "port": self.port, "starts": self.starts}


class Supervisor:
    """Starts, watches and stops the processes; serves the merged pages."""

    def __init__(
        self,
        command: Sequence[str],
        processes: int,
        host: str,
        port: int,
        data_dir: str,
    ) -> None:
        self.command = list(command)  # the worker command, before the per-process flags
        self.host, self.port = host, port
        self.address = local_address(host)
        self.children = [
            Child(i, free_port(self.address), os.path.join(data_dir, f"process-{i}"))
            for i in range(processes)
        ]
        self.exit_code = 0
        self.stopping = asyncio.Event()
        self.first_start = asyncio.Barrier(processes)
        self.session: aiohttp.ClientSession | None = None

    def child_command(self, child: Child) -> list[str]:
        return [
            *self.command,
            "--processes", "1",
            "--web-port", str(child.port),
            "--data-dir", child.data_dir,
        ]  # fmt: skip

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for c in self.children:  # Faust makes its data directory, not the parents
            os.makedirs(c.data_dir, exist_ok=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=ASK_TIMEOUT_S))
        runner = web.AppRunner(self.web_app(), access_log=None)
        await runner.setup()
        try:
            try:
                await web.TCPSite(runner, self.host, self.port).start()
            except OSError as exc:
                why = f"cannot listen on {self.host}:{self.port}: {exc.strerror}"
                if exc.errno == errno.EADDRINUSE:
                    why = f"port {self.port} is in use ({self.host}): choose another --web-port"
                raise UsageError(why) from None
            ports = ", ".join(str(c.port) for c in self.children)
            log.info(
                "%d worker processes (ports %s); /metrics and /progress of them all on %s:%d",
                len(self.children),
                ports,
                self.host,
                self.port,
            )
            await asyncio.gather(*(self.keep(c) for c in self.children))
        finally:
            self.stop()
            await asyncio.gather(*(self.terminate(c) for c in self.children))
            await runner.cleanup()
            await self.session.close()
        return self.exit_code

    def stop(self, exit_code: int | None = None) -> None:
        if exit_code is not None:
            self.exit_code = exit_code
        self.stopping.set()
        for c in self.children:
            if c.proc is not None and c.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    c.proc.send_signal(signal.SIGTERM)

    async def keep(self, child: Child) -> None:
        """Run ``child`` until the supervisor stops, starting it again when it exits."""
        loop = asyncio.get_running_loop()
        failures = 0
        env = {**os.environ, SUPERVISOR_ENV: str(os.getpid())}
        while not self.stopping.is_set():
            started = loop.time()
            ready_r, ready_w = os.pipe()
            go_r, go_w = os.pipe()
            try:
                child.proc = await asyncio.create_subprocess_exec(
                    *self.child_command(child),
                    env={**env, START_ENV: f"{ready_w},{go_r}"},
                    pass_fds=(ready_w, go_r),
                )
            finally:
                os.close(ready_w)
                os.close(go_r)
            child.starts += 1
            try:
                try:
                    # b"" when it died first
                    await loop.run_in_executor(None, os.read, ready_r, 1)
                finally:
                    os.close(ready_r)
                if child.starts == 1:  # the first time: all join the group together
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.first_start.wait(), FIRST_START_WAIT_S)
                with contextlib.suppress(OSError):  # gone already
                    os.write(go_w, b"1")
                code = await child.proc.wait()
            finally:
                os.close(go_w)  # open while it runs: see leave_when_orphaned
            if self.stopping.is_set():
                return
            if code == 2:  # it printed why, in one line: the others would stop the same way
                self.stop(2)
                return
            if loop.time() - started >= STABLE_S:
                failures = 0
            delay = RESTART_DELAYS_S[min(failures, len(RESTART_DELAYS_S) - 1)]
            failures += 1
            log.warning(
                "worker process %d (pid %d) exited with code %s; starting it again in %.0f s",
                child.index,
                child.proc.pid,
                code,
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)

    async def terminate(self, child: Child) -> None:
        proc = child.proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()

    async def ask(self, child: Child, path: str) -> tuple[int, bytes, str]:
        """(status, body, content type) of GET ``path`` on ``child``."""
        assert self.session is not None
        url = f"http://{self.address}:{child.port}{path}"
        async with self.session.get(url) as resp:
            return resp.status, await resp.read(), resp.content_type

    async def ask_all(self, path: str) -> list[bytes] | web.Response:
        """Every process's answer to ``path``, or a 503 naming those that did not answer."""
        answers = await asyncio.gather(
            *(self.ask(c, path) for c in self.children), return_exceptions=True
        )
        missing = [
            c.summary()
            for c, a in zip(self.children, answers, strict=True)
            if isinstance(a, BaseException) or a[0] != 200
        ]
        if missing:
            body = {"error": "unavailable", "detail": "a worker process did not answer"}
            return json_response({**body, "processes": missing}, 503)
        return [a[1] for a in answers if not isinstance(a, BaseException)]

    def web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/progress", self.progress)
        app.router.add_get("/{path:.*}", self.forward)
        return app

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        pages = await self.ask_all("/metrics")
        if isinstance(pages, web.Response):
            return pages
        body = merge_expositions([p.decode() for p in pages])
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def progress(self, request: web.Request) -> web.StreamResponse:
        answers = await self.ask_all("/progress")
        if isinstance(answers, web.Response):
            return answers
        each = [orjson.loads(a) for a in answers]
        merged = merge_progress(each)
        merged["processes"] = [
            {**c.summary(), "handled": a["handled"], "partitions": a["partitions"]}
            for c, a in zip(self.children, each, strict=True)
        ]
        return json_response(merged)

    async def forward(self, request: web.Request) -> web.StreamResponse:
        """Any other GET: the first process that answers (it routes keys to their owner)."""
        for child in self.children:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                status, body, kind = await self.ask(child, request.path_qs)
                return web.Response(status=status, body=body, content_type=kind)
        detail = "no worker process answered"
        return json_response({"error": "unavailable", "detail": detail}, 503)


def json_response(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def supervise(command: Sequence[str], processes: int, host: str, port: int, data_dir: str) -> int:
    """Run ``processes`` copies of the worker ``command`` (argv) until stopped; the exit
    code (0, or 2 when a process exited with 2)."""
    logging.basicConfig(
        level=logging.INFO, format="[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"
    )

    async def main() -> int:
        return await Supervisor(command, processes, host, port, data_dir).run()

    return asyncio.run(main())
