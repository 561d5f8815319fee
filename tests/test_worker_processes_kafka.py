"""``stream-app worker --processes 2`` on the real broker: one port whose /metrics equals
`stream-app replay` of the same events, a process killed with -9 started again with
nothing lost or counted twice, and a supervisor killed with -9 taking its processes along."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stream_app.allocator import jemalloc_library
from stream_app.dev.broker import LocalKafka
from tests.faults import create_for, cs_sum, dataset, diff, replayed, send
from tests.worker_proc import WorkerProcess, handled, wait_for

pytestmark = [pytest.mark.integration]


def progress(worker: WorkerProcess) -> dict[str, Any]:
    url = f"http://127.0.0.1:{worker.port}/progress"
    with urllib.request.urlopen(url, timeout=5) as resp:
        body: dict[str, Any] = json.loads(resp.read())
    return body


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (dead, not yet reaped by its parent) is gone for our purpose
    state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    return state != "Z"


def both_own(worker: WorkerProcess) -> dict[str, Any] | None:
    """/progress once the 4 partitions are shared by both processes (None before)."""
    p = progress(worker)
    shares = [len(q["partitions"]) for q in p["processes"]]
    return p if len(p["partitions"]) == 4 and all(shares) and sum(shares) == 4 else None


def test_two_processes_one_port_equal_replay_through_a_kill(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    events = dataset(seed=41, accounts=80, days=20, duplicate_ratio=0.01, invalid_ratio=0.01)
    first, second = events[: len(events) // 2], events[len(events) // 2 :]
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path, env={"CS_PROCESSES": "2"})
    asyncio.run(create_for(kafka.bootstrap, worker))
    worker.start()
    try:
        p = wait_for(lambda: both_own(worker), 120, "both processes own partitions")
        pids = [q["pid"] for q in p["processes"]]
        assert len(set(pids)) == 2 and worker.proc is not None and worker.proc.pid not in pids
        if jemalloc_library() is not None:  # CS_ALLOCATOR=auto: the supervisor and each process
            for pid in (worker.proc.pid, *pids):
                assert "/libjemalloc.so" in Path(f"/proc/{pid}/maps").read_text()
            assert p["allocator"] == "jemalloc"  # and /progress says so
        sent = send(kafka.bootstrap, worker, first)
        wait_for(lambda: handled(worker.metrics()) >= sent, 180, "first half")
        assert progress(worker)["handled"] == sent  # /progress sums the processes too
        as_of = datetime.now(UTC)
        assert diff(cs_sum([worker.metrics()]), replayed(first, tmp_path, as_of)) == {}

        os.kill(pids[0], signal.SIGKILL)  # one process dies; the supervisor starts it again
        sent += send(kafka.bootstrap, worker, second)

        def restarted() -> dict[str, Any] | None:
            q = both_own(worker)
            return q if q and q["processes"][0]["pid"] not in pids else None

        p = wait_for(restarted, 180, "the killed process started again and owning partitions")
        assert p["processes"][0]["starts"] == 2 and p["processes"][1]["starts"] == 1
        wait_for(lambda: handled(worker.metrics()) >= sent, 240, "second half")
        as_of = datetime.now(UTC)
        live = cs_sum([worker.metrics()])
        pids = [q["pid"] for q in progress(worker)["processes"]]
        # the supervisor killed with -9: its processes get SIGTERM and leave
        worker.proc.send_signal(signal.SIGKILL)  # the supervisor alone, not its group
        worker.proc.wait(10)
        wait_for(lambda: not any(alive(pid) for pid in pids), 60, "the processes stop")
    finally:
        worker.stop()
    assert diff(live, replayed(events, tmp_path, as_of)) == {}


def test_a_process_refusing_the_setup_stops_all_with_exit_2(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    # topics of 4 partitions, a worker told 2: every process refuses (exit 2), so does
    # the supervisor, with the worker's one line
    worker = WorkerProcess(
        kafka.bootstrap, topic_prefix, tmp_path, env={"CS_PROCESSES": "2", "CS_PARTITIONS": "2"}
    )
    asyncio.run(create_for(kafka.bootstrap, WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path)))
    code = worker.run_to_exit(180)
    assert code == 2, worker.log_tail()
    assert "stream-app worker: " in worker.log_tail()
    assert "Traceback" not in worker.log_tail()


def test_metrics_answer_503_while_a_process_is_down(
    kafka: LocalKafka, topic_prefix: str, tmp_path: Path
) -> None:
    worker = WorkerProcess(kafka.bootstrap, topic_prefix, tmp_path, env={"CS_PROCESSES": "2"})
    asyncio.run(create_for(kafka.bootstrap, worker))
    worker.start()
    try:
        p = wait_for(lambda: both_own(worker), 120, "both processes own partitions")
        os.kill(p["processes"][1]["pid"], signal.SIGSTOP)  # there, but not answering
        try:
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(worker.url, timeout=30)
            assert err.value.code == 503
            body = json.loads(err.value.read())
            assert [q["index"] for q in body["processes"]] == [1]
        finally:
            os.kill(p["processes"][1]["pid"], signal.SIGCONT)
        assert handled(worker.metrics()) == 0  # answers again once it does
    finally:
        worker.stop()
