"""``stream-app replay --processes N``: the replay split by key over processes.

Each event goes to a process by its key: the key field of its topic (``account_id``,
``visitor_id``, ``source``), placed on a partition as the worker's producers place it
(murmur2 of the key over ``partitions``), partition ``p`` held by process ``p % N``. So a
process holds whole partitions, exactly as a worker does, and its exports add up with the
others' (the core's families are additive across partitions by design). Regular files:
every process reads every line, finds its key (one ``orjson.loads``, what the core's
parser does first) and applies the lines of its own keys, handing the core the decoded
line (so each line is decoded once by its own process and once by each other one). An
input that can be read only once (a pipe): the parent reads each line once, finds its
key the same way and sends the line, in chunks, to its process. Then the parent merges:
counts, and families in the order one core would list them (:func:`merge_in_order`).

A share's loop (reading, finding keys, applying its lines, the lateness blocks) is
:mod:`stream_app.replay_share`, compiled with the core; this module starts the processes,
deals a pipe's lines and merges the shares' reports.

Reading in every process beat the dealing parent once a share's own lines were no
longer decoded twice (measured: README.md, "Replay on several processes"): the parent's
dealing cost as much CPU as a second decoding of every line, on a third process.

What one core decides from the whole stream, and a share cannot see:

- the lateness clock without ``--as-of``: the latest applied event time so far, over
  *every* key. A share's clock is never ahead of the whole replay's, so a share rejects
  as ``too_late`` only what the whole replay rejects too; what a share accepts the whole
  replay could still reject. Each process reports, per block of lines, its clock at the
  block's end and the oldest event it let through in the block; the parent checks every
  accepted event against the highest clock of the block, and when one could have been
  too late replays on one process instead (the outcome is then certainly the same).
- "as of" without ``--as-of``: the latest event time of all shares (the parent asks the
  shares for their families once it knows it).
- the order of the summary's reasons (ties of ``Counter.most_common`` keep first-seen
  order): each share reports the first line of each reason.
- ``--rejects-out``: the rejected lines of all shares, merged in file and line order.
"""

from __future__ import annotations

import heapq
import multiprocessing
import os
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from itertools import pairwise
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from stream_app.contract import Rejection
from stream_app.exposition import to_metric
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.families import Family, Labels
from stream_app.kpi.settings import KpiSettings
from stream_app.replay import PROGRESS_EVERY, RejectsWriter, ReplayResult, replay
from stream_app.replay_progress import Progress
from stream_app.replay_share import (
    NO_TS,
    NONE_TS,
    ShareApplier,
    read_share,
    route,
)

#: lines of one message from the parent to a share
CHUNK_LINES = 2048
#: below this many input bytes ``--processes auto`` replays on one process: starting the
#: others costs more than it saves
AUTO_MIN_BYTES = 8 * 1024 * 1024


def is_splittable(paths: Sequence[Path]) -> bool:
    """Whether every input can be read by several processes (regular files; a pipe or
    ``/dev/stdin`` can be read once)."""
    return all(p.is_file() for p in paths)


def auto_processes(paths: Sequence[Path], partitions: int) -> int:
    """``--processes auto``: one process per CPU this process may run on, at most one per
    partition; one for regular files under :data:`AUTO_MIN_BYTES` in all."""
    if is_splittable(paths) and sum(p.stat().st_size for p in paths) < AUTO_MIN_BYTES:
        return 1
    return max(1, min(len(os.sched_getaffinity(0)), partitions))


@dataclass
class SplitResult:
    """What a split replay reports: the merged families (as one core lists them) and the
    counts of the summary line; ``processes`` is 1 when it replayed on one process."""

    families: list[Family]
    as_of: datetime
    lines: int
    seconds: float
    accepted: int
    duplicates: int
    rejected: Counter[str]
    processes: int
    #: why it replayed on one process although asked for more (None: it did not)
    single_reason: str | None = None
    #: CPU seconds each process spent reading its share (the slowest one bounds the
    #: wall time on an idle machine with a core per process)
    share_cpu: list[float] = field(default_factory=list)
    #: CPU seconds the parent spent reading the lines and dealing them out
    deal_cpu: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else float("inf")

    def exposition(self) -> bytes:
        return render_families(self.families)


@dataclass
class _Share:
    """One process's report after applying its share."""

    max_ts: float | None
    type_counts: dict[str, int]
    duplicates: int
    #: reason -> (count, first line number over all files)
    rejected: dict[str, tuple[int, int]]
    #: per block of lines it had lines in, in order: (block, its clock after its last
    #: line of the block, the oldest ts it let through the lateness check in the block)
    blocks: list[tuple[int, float, float]]
    #: (file index, line number, rejection, raw line)
    rejects: list[tuple[int, int, Rejection, bytes]] = field(default_factory=list)
    cpu: float = 0.0
    #: non-blank lines it read (a share that reads the files itself: all of them)
    lines: int = 0


#: one message to a share: (file index, its lines joined by newlines, their numbers over
#: all files, their line numbers in the file), as array("q") bytes
_Chunk = tuple[int, bytes, bytes, bytes]


def _apply_share(
    conn: Connection, settings: KpiSettings, until: float | None, keep_rejects: bool
) -> tuple[PartitionCore, _Share]:
    """Apply the chunks the parent sends (until None) to one core."""
    applier = ShareApplier(settings, until, keep_rejects)
    line = applier.line
    while True:
        chunk: _Chunk | None = conn.recv()
        if chunk is None:
            break
        file_index, payload, number_bytes, lineno_bytes = chunk
        numbers, linenos = array("q"), array("q")
        numbers.frombytes(number_bytes)
        linenos.frombytes(lineno_bytes)
        for raw, number, lineno in zip(payload.split(b"\n"), numbers, linenos, strict=True):
            line(file_index, number, lineno, raw)
    return _finish(applier)


def _finish(applier: ShareApplier, lines: int = 0) -> tuple[PartitionCore, _Share]:
    """Settle a share's core and make its report."""
    core = applier.finish()
    share = _Share(
        max_ts=core.max_ts,
        type_counts=dict(core.type_counts),
        duplicates=core.duplicates,
        rejected={r: (n, applier.first_seen.get(r, 0)) for r, n in core.rejected.items() if n},
        blocks=applier.blocks,
        rejects=applier.rejects,
        lines=lines,
    )
    return core, share


@dataclass
class _Reading:
    """What a share that reads the files itself needs: the files, its index among the
    ``processes`` shares, the partition count, and where share 0 tells the parent its
    progress (bytes read, lines)."""

    files: list[Path]
    index: int
    processes: int
    partitions: int
    progress: Any  # a shared array("q", 2) (multiprocessing.RawArray)


def _read_share(
    reading: _Reading, settings: KpiSettings, until: float | None, keep_rejects: bool
) -> tuple[PartitionCore, _Share]:
    """Read every line of the files and apply those of this share's partitions
    (:func:`stream_app.replay_share.read_share`)."""
    applier = ShareApplier(settings, until, keep_rejects)
    shown = reading.progress if reading.index == 0 else None
    lines = read_share(
        applier, reading.files, reading.index, reading.processes, reading.partitions, shown
    )
    return _finish(applier, lines)


def _child(
    conn: Connection,
    index: int,
    settings: KpiSettings,
    until: float | None,
    keep: bool,
    reading: _Reading | None = None,
) -> None:
    """A share's process: apply its lines (read from the files itself with ``reading``,
    else sent by the parent), report, then send the families as of the time the parent
    answers (None: the parent replays on one process instead)."""
    try:
        started = time.process_time()
        if reading is not None:
            core, share = _read_share(reading, settings, until, keep)
        else:
            core, share = _apply_share(conn, settings, until, keep)
        share.cpu = time.process_time() - started
        conn.send(share)
        as_of = conn.recv()
        if as_of is not None:
            conn.send(core.families(as_of))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the parent says it
        pass
    except BaseException as exc:  # the parent raises it
        with suppress(OSError):  # the parent is gone (interrupted): nobody to tell
            conn.send(RuntimeError(f"replay process {index}: {exc!r}"))
    finally:
        conn.close()


class _Dealer:
    """The parent's side: reads every line once, finds its key and sends it, in chunks,
    to the process holding the key's partition."""

    def __init__(self, conns: list[Connection], partitions: int) -> None:
        self.conns = conns
        self.partitions = partitions
        n = len(conns)
        self.owners: dict[str | None, int] = {None: 0}  # no key: the first process
        self.lines: list[list[bytes]] = [[] for _ in range(n)]
        self.numbers = [array("q") for _ in range(n)]
        self.linenos = [array("q") for _ in range(n)]
        self.file_index = 0

    def deal(self, files: Sequence[Path], progress: Progress | None) -> int:
        """Send every non-blank line of ``files``; returns how many there were."""
        n = len(self.conns)
        owners, partitions = self.owners, self.partitions
        lines = 0
        done = 0
        for file_index, path in enumerate(files):
            self.file_index = file_index
            with path.open("rb") as fh:
                for lineno, line in enumerate(fh, 1):
                    done += len(line)
                    raw = line.strip()
                    if not raw:
                        continue
                    lines += 1
                    owner, _ = route(raw, owners, partitions, n)
                    bucket = self.lines[owner]
                    bucket.append(raw)
                    self.numbers[owner].append(lines)
                    self.linenos[owner].append(lineno)
                    if len(bucket) >= CHUNK_LINES:
                        self._send(owner)
                    if progress is not None and lines % PROGRESS_EVERY == 0:
                        progress.update(done, lines)
            for owner in range(n):  # a chunk holds the lines of one file
                self._send(owner)
        for conn in self.conns:
            conn.send(None)
        if progress is not None:
            progress.update(done, lines)
        return lines

    def _send(self, owner: int) -> None:
        if not self.lines[owner]:
            return
        chunk: _Chunk = (
            self.file_index,
            b"\n".join(self.lines[owner]),
            self.numbers[owner].tobytes(),
            self.linenos[owner].tobytes(),
        )
        self.conns[owner].send(chunk)
        self.lines[owner] = []
        self.numbers[owner] = array("q")
        self.linenos[owner] = array("q")


def replay_split(
    paths: Iterable[Path | str],
    settings: KpiSettings | None = None,
    as_of: datetime | None = None,
    *,
    processes: int = 2,
    partitions: int = 4,
    progress: Progress | None = None,
    rejects: RejectsWriter | None = None,
) -> SplitResult:
    """:func:`stream_app.replay.replay` on ``processes`` processes, each holding the
    partitions ``p`` with ``p % processes`` its index (``partitions``: the topics'
    partition count, ``CS_PARTITIONS``); the same families and counts as one core.

    More processes than partitions are not used (a share would be empty). An input that
    can be read only once (a pipe) is split only with ``as_of`` (without it, the
    lateness check may need a second reading on one process)."""
    settings = settings or KpiSettings()
    files = [Path(p) for p in paths]
    n = max(1, min(processes, partitions))
    if processes > 1 and n == 1:
        return _single(files, settings, as_of, progress, rejects, "one partition")
    if n == 1:
        return _single(files, settings, as_of, progress, rejects, None)
    if as_of is None and not is_splittable(files):
        why = "the input can be read only once: give --as-of to split it"
        return _single(files, settings, as_of, progress, rejects, why)
    until = as_of.timestamp() if as_of is not None else None
    started = time.monotonic()
    ctx = multiprocessing.get_context("fork")
    reads = is_splittable(files)  # each share reads the files: no dealing parent
    shown = ctx.RawArray("q", 2)  # share 0's progress: bytes read, lines
    conns: list[Connection] = []
    procs = []
    for index in range(n):
        parent_end, child_end = ctx.Pipe()
        reading = _Reading(files, index, n, partitions, shown) if reads else None
        proc = ctx.Process(
            target=_child,
            args=(child_end, index, settings, until, rejects is not None, reading),
            daemon=True,
        )
        proc.start()
        child_end.close()
        conns.append(parent_end)
        procs.append(proc)
    try:
        dealing = time.process_time()
        if reads:
            _wait_showing(conns, progress, shown)
        else:
            lines = _Dealer(conns, partitions).deal(files, progress)
        deal_cpu = time.process_time() - dealing
        shares: list[_Share] = [_receive(conn) for conn in conns]
        if reads:
            lines = shares[0].lines
            if progress is not None:
                progress.update(shown[0], shown[1])
        seconds = time.monotonic() - started
        if until is None and _clock_disagrees(shares, settings):
            for conn in conns:
                conn.send(None)
            _join(procs)
            why = "an event may be too late on the whole stream's clock (give --as-of)"
            return _single(files, settings, as_of, None, rejects, why)
        if as_of is None:
            latest = [s.max_ts for s in shares if s.max_ts is not None]
            as_of = datetime.fromtimestamp(max(latest) if latest else time.time(), tz=UTC)
        for conn in conns:
            conn.send(as_of)
        families = merge_in_order([_receive(conn) for conn in conns])
    finally:
        for conn in conns:
            conn.close()
        _join(procs)
    if progress is not None:
        progress.finish()
    if rejects is not None:
        for file_index, lineno, rejection, raw in heapq.merge(
            *(s.rejects for s in shares), key=lambda r: (r[0], r[1])
        ):
            rejects.write(files[file_index], lineno, rejection, raw)
    type_counts: Counter[str] = Counter()
    for s in shares:
        type_counts.update(s.type_counts)
    return SplitResult(
        families=families,
        as_of=as_of,
        lines=lines,
        seconds=seconds,
        accepted=sum(type_counts.values()),
        duplicates=sum(s.duplicates for s in shares),
        rejected=_rejected_in_order(shares),
        processes=n,
        share_cpu=[s.cpu for s in shares],
        deal_cpu=deal_cpu,
    )


def _single(
    files: Sequence[Path],
    settings: KpiSettings,
    as_of: datetime | None,
    progress: Progress | None,
    rejects: RejectsWriter | None,
    why: str | None,
) -> SplitResult:
    result = replay(files, settings, as_of, progress, rejects)
    return single_result(result, why)


def single_result(result: ReplayResult, why: str | None = None) -> SplitResult:
    """A one-core :class:`ReplayResult` as a :class:`SplitResult`."""
    from stream_app.exposition import read_families

    core = result.core
    return SplitResult(
        families=read_families([core], result.as_of),
        as_of=result.as_of,
        lines=result.lines,
        seconds=result.seconds,
        accepted=sum(core.type_counts.values()),
        duplicates=core.duplicates,
        rejected=Counter(core.rejected),
        processes=1,
        single_reason=why,
    )


def _wait_showing(conns: list[Connection], progress: Progress | None, shown: Any) -> None:
    """Wait until every share has reported, showing share 0's progress meanwhile."""
    pending = list(conns)
    while pending:
        for conn in wait(pending, timeout=0.5 if progress is not None else None):
            pending.remove(conn)  # type: ignore[arg-type]
        if progress is not None:
            progress.update(shown[0], shown[1])


def _receive(conn: Connection) -> Any:
    try:
        message = conn.recv()
    except EOFError:
        raise RuntimeError("a replay process ended without its result") from None
    if isinstance(message, Exception):
        raise message
    return message


def _join(procs: list[Any]) -> None:
    for proc in procs:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join()


def _clock_disagrees(shares: list[_Share], settings: KpiSettings) -> bool:
    """Whether an event a share let through may be ``too_late`` on the whole stream's
    clock: its ts below the highest clock of any share at the end of its block (a
    share's clock there: after its last line up to that block), minus the limit."""
    limit = settings.max_lateness_days * 86400.0
    touched = sorted({b for s in shares for b, _, _ in s.blocks})
    at = [0] * len(shares)
    clocks = [NONE_TS] * len(shares)
    for block in touched:
        oldest = NO_TS
        for i, s in enumerate(shares):
            while at[i] < len(s.blocks) and s.blocks[at[i]][0] <= block:
                if s.blocks[at[i]][0] == block:
                    oldest = min(oldest, s.blocks[at[i]][2])
                clocks[i] = s.blocks[at[i]][1]
                at[i] += 1
        if oldest < max(clocks) - limit:
            return True
    return False


def _rejected_in_order(shares: list[_Share]) -> Counter[str]:
    """Rejections by reason, reasons in the order one core first met them."""
    first: dict[str, int] = {}
    total: Counter[str] = Counter()
    for s in shares:
        for reason, (n, line) in s.rejected.items():
            first[reason] = min(first.get(reason, line), line)
            total[reason] += n
    return Counter({r: total[r] for r in sorted(total, key=lambda r: first[r])})


# -- merging families in one core's order ---------------------------------------------
SampleKey = tuple[str, Labels]


def merge_in_order(shares: Sequence[Sequence[Family]]) -> list[Family]:
    """Sum the families of ``shares`` (as :func:`stream_app.kpi.families.merge`), listing
    families and samples in the order one core over all the keys lists them.

    A group lists its samples in a fixed order of their labels (fixed label sets in
    declaration order, data-dependent ones sorted); a share lists the subset it has in
    that order. The merge keeps every share's order; where two samples come from
    different shares only, the outer label (the one that changes least often along the
    shares' lists) decides, then the next, by sorted value."""
    names = _merge_orders([[f.name for f in fams] for fams in shares], lambda n: (n,))
    by_name: dict[str, list[Family]] = {}
    for fams in shares:
        for fam in fams:
            by_name.setdefault(fam.name, []).append(fam)
    out: list[Family] = []
    for name in names:
        fams = by_name[name]
        first = fams[0]
        sums: dict[SampleKey, Any] = {}
        for fam in fams:
            for key, value in fam.samples.items():
                sums[key] = sums.get(key, 0) + value
        orders = [list(f.samples) for f in fams]
        merged = Family(first.name, first.kind, first.help)
        for key in _merge_orders(orders, partial(_tie_key, _outer_first(orders))):
            merged.samples[key] = sums[key]
        out.append(merged)
    return out


def _outer_first(orders: list[list[SampleKey]]) -> list[str]:
    """Label names from the outermost (fewest changes between neighbours) inwards."""
    changes: Counter[str] = Counter()
    names: set[str] = set()
    for order in orders:
        for prev, cur in pairwise(order):
            a, b = dict(prev[1]), dict(cur[1])
            for name in a.keys() | b.keys():
                if a.get(name) != b.get(name):
                    changes[name] += 1
        for _, labels in order:
            names.update(n for n, _ in labels)
    return sorted(names, key=lambda n: (changes[n], n))


def _tie_key(names: list[str], key: SampleKey) -> tuple[str, ...]:
    labels = dict(key[1])
    return (*(labels.get(n, "") for n in names), key[0])


def _merge_orders(orders: list[list[Any]], tie: Any) -> list[Any]:
    """One list holding every item of ``orders`` with each one's order kept (an item may
    be in several); among items free to come next, ``tie`` picks the smallest."""
    holders: Counter[Any] = Counter()
    for order in orders:
        holders.update(order)
    heads = [0] * len(orders)
    at_head: Counter[Any] = Counter(order[0] for order in orders if order)
    out: list[Any] = []
    total = len(holders)
    while len(out) < total:
        free = [
            order[heads[i]]
            for i, order in enumerate(orders)
            if heads[i] < len(order) and at_head[order[heads[i]]] == holders[order[heads[i]]]
        ]
        if not free:
            raise ValueError("the shares list their samples in orders that contradict")
        item = min(free, key=tie)
        out.append(item)
        for i, order in enumerate(orders):
            if heads[i] < len(order) and order[heads[i]] == item:
                heads[i] += 1
                if heads[i] < len(order):
                    at_head[order[heads[i]]] += 1
    return out


class _Families(Collector):
    def __init__(self, families: list[Family]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        for fam in self._families:
            yield to_metric(fam)


def render_families(families: list[Family]) -> bytes:
    """Text exposition of merged families (what :func:`stream_app.exposition.render`
    writes for one core's)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)
