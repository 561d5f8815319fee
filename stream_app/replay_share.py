"""One share of ``stream-app replay --processes N``: the lines of its keys applied to its
own core, and what it reports of them (:mod:`stream_app.replay_split` runs the processes
and merges their reports).

This is a share's hot loop, compiled with the core (:data:`stream_app.compiled.COMPILED`):
a share that reads the files itself reads every line and decodes it to find its key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import orjson

from stream_app.contract import TYPE_KEY, Rejection, parse_event
from stream_app.kpi.core import REPLAY_HOT_KEYS, Outcome, PartitionCore
from stream_app.kpi.settings import KpiSettings
from stream_app.murmur2 import partition_of
from stream_app.replay import PROGRESS_EVERY

#: lines of one block of the lateness check (a few numbers per block and process)
BLOCK_LINES: Final = 4096
#: a share's clock before any event
NONE_TS: Final = float("-inf")
#: the oldest event time let through a block before any
NO_TS: Final = float("inf")
_REJECTED: Final = Outcome.REJECTED


def message_key(raw: bytes) -> str | None:
    """The value of the key field of ``raw``'s topic (None when there is none to read:
    the line is invalid, and any process may reject it). Reads the JSON as the core's
    parser reads it (orjson; pydantic's JSON for what orjson refuses), so a valid event
    always goes to the process of its key."""
    try:
        d = orjson.loads(raw)
    except ValueError:
        model = parse_event(raw)
        if isinstance(model, Rejection):
            return None
        d = {"type": model.type, **model.model_dump()}
    return _key_of(d)


def _key_of(d: object) -> str | None:
    """The key of a decoded line (None: no string where its type's key field is)."""
    if type(d) is not dict:
        return None
    kind = d.get("type")
    field = TYPE_KEY.get(kind) if type(kind) is str else None
    key = d.get(field) if field is not None else None
    return key if type(key) is str else None


def route(
    raw: bytes, owners: dict[str | None, int], partitions: int, processes: int
) -> tuple[int, Any]:
    """The share of line ``raw`` (its key's partition ``p``, as the producers place it,
    is held by share ``p % processes``; a line without a key to read goes to share 0) and
    ``orjson.loads(raw)`` (None when orjson refuses it): :func:`message_key` without
    decoding twice. ``owners`` (key -> share) is the caller's cache, holding None: 0."""
    d: Any
    try:
        d = orjson.loads(raw)
    except ValueError:
        key, d = message_key(raw), None
    else:
        key = _key_of(d)
    owner = owners.get(key)
    if owner is None:
        owner = owners[key] = partition_of(key.encode(), partitions) % processes  # type: ignore[union-attr]
    return owner, d


def clock(core: PartitionCore) -> float:
    """A core's lateness clock (:data:`NONE_TS` before any event)."""
    ts = core.max_ts
    return NONE_TS if ts is None else ts


class ShareApplier:
    """One share's core and what it reports, fed one line at a time (in line order)."""

    def __init__(self, settings: KpiSettings, until: float | None, keep_rejects: bool) -> None:
        self.core = PartitionCore(settings, hot_keys=REPLAY_HOT_KEYS)
        self.until = until
        self.keep_rejects = keep_rejects
        self.check_clock = until is None
        #: reason -> the number (over all files) of the first line rejected for it
        self.first_seen: dict[str, int] = {}
        #: per block of lines it had lines in, in order: (block, its clock after its last
        #: line of the block, the oldest ts it let through the lateness check in the block)
        self.blocks: list[tuple[int, float, float]] = []
        #: (file index, line number, rejection, raw line)
        self.rejects: list[tuple[int, int, Rejection, bytes]] = []
        self.block = -1
        self.oldest = NO_TS

    def line(
        self, file_index: int, number: int, lineno: int, raw: bytes, decoded: object = None
    ) -> None:
        """Apply line ``number`` (over all files; ``lineno`` in its file); ``decoded``:
        ``orjson.loads(raw)`` when the caller has it."""
        core = self.core
        until = self.until
        check_clock = self.check_clock
        if check_clock:
            block = (number - 1) // BLOCK_LINES
            if block != self.block:
                if self.block >= 0:
                    self.blocks.append((self.block, clock(core), self.oldest))
                self.block = block
                self.oldest = NO_TS
        now = until if until is not None else core.max_ts
        outcome, detail = core.ingest_line(raw, now, until, decoded)
        if outcome is _REJECTED:
            assert type(detail) is Rejection
            reason = detail.reason
            if reason not in self.first_seen:
                self.first_seen[reason] = number
            if self.keep_rejects:
                self.rejects.append((file_index, lineno, detail, raw))
            if check_clock and reason != "too_late":
                parsed = core.parser.parse(raw)  # past the clock: a group refused it
                if type(parsed) is not Rejection:
                    us: int = parsed[0].us  # type: ignore[index]
                    self.oldest = min(self.oldest, us / 1_000_000)
        elif check_clock:
            us = detail.us  # type: ignore[union-attr]
            ts = us / 1_000_000
            if ts < self.oldest:
                self.oldest = ts

    def finish(self) -> PartitionCore:
        """Close the last block and settle the core (its state as a replay ends)."""
        core = self.core
        if self.block >= 0:
            self.blocks.append((self.block, clock(core), self.oldest))
        core.settle()
        return core


def read_share(
    applier: ShareApplier,
    files: list[Path],
    index: int,
    processes: int,
    partitions: int,
    progress: Any,
) -> int:
    """Read every line of ``files``, find its key (``orjson.loads``, what the core's parser
    does first) and hand ``applier`` the lines of the partitions ``p`` with
    ``p % processes == index``, with the decoded line (so a line of this share is decoded
    once); returns the non-blank lines read. ``progress`` (share 0's, or None): a shared
    ``array("q", 2)`` set to the bytes and lines read every :data:`PROGRESS_EVERY` lines."""
    owners: dict[str | None, int] = {None: 0}  # no key: the first process
    lines = 0
    done = 0  # bytes of the files before this one
    for file_index, path in enumerate(files):
        with path.open("rb") as fh:
            lineno = 0
            for text in fh:
                lineno += 1
                raw: bytes = text.strip()
                if not raw:
                    continue
                lines += 1
                if progress is not None and lines % PROGRESS_EVERY == 0:
                    progress[0], progress[1] = done + fh.tell(), lines
                owner, d = route(raw, owners, partitions, processes)
                if owner == index:
                    applier.line(file_index, lines, lineno, raw, d)
            done += fh.tell()
    if progress is not None:
        progress[0], progress[1] = done, lines
    return lines
