"""``replay --processes N``: a replay split by key over processes gives the one-core
exposition byte for byte, the same summary counts (reasons in the same order) and the
same ``--rejects-out`` file; keys go where the worker's partitioner puts them; samples
merge in one core's order; command-line mistakes are one line and exit code 2."""

from __future__ import annotations

import os
import random
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from stream_app.cli import main
from stream_app.commands.replay import summary_line
from stream_app.contract import TYPE_KEY, Rejection, parse_event
from stream_app.exposition import render
from stream_app.generator import GeneratorConfig, generate_history, write_jsonl
from stream_app.kpi.core import HOT_KEYS, REPLAY_HOT_KEYS, PartitionCore
from stream_app.kpi.families import Family
from stream_app.kpi.groups.web.group import WebGroup
from stream_app.kpi.settings import KpiSettings
from stream_app.replay import RejectsWriter, replay
from stream_app.replay_share import message_key
from stream_app.replay_split import (
    SplitResult,
    auto_processes,
    merge_in_order,
    replay_split,
)
from stream_app.worker.routing import contract_partition
from tests.helpers import ev
from tests.test_properties import AS_OF, valid_event

END = datetime(2026, 11, 28, tzinfo=UTC)

#: (name, generator config): duplicates, invalid lines, late web events, few accounts
#: (sparse labels: a share lacks paths, features, links another one has)
DATASETS = {
    "duplicates+invalid": GeneratorConfig(
        seed=5, accounts=20, days=14, end=END, duplicate_ratio=0.05, invalid_ratio=0.03
    ),
    "late-web": GeneratorConfig(
        seed=9, accounts=25, days=21, end=END, duplicate_ratio=0.01, web_late_ratio=0.1
    ),
    "tiny": GeneratorConfig(seed=2, accounts=3, days=5, end=END, invalid_ratio=0.05),
}


@pytest.fixture(scope="module", params=sorted(DATASETS))
def dataset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("split") / f"{request.param}.jsonl"
    write_jsonl(generate_history(DATASETS[request.param]), path)
    return path


def _counts(line: str) -> str:
    """A summary line without its timing (the one part that may differ)."""
    return re.sub(r" in [0-9.]+s \([0-9,]+ events/s\)", "", line)


@pytest.mark.parametrize("processes", [2, 3, 4])
@pytest.mark.parametrize("as_of", [None, END - timedelta(days=2)], ids=["latest", "as-of"])
def test_a_split_replay_equals_one_core(
    dataset: Path, processes: int, as_of: datetime | None, tmp_path: Path
) -> None:
    settings = KpiSettings()
    one_rejects = RejectsWriter(tmp_path / "one.jsonl")
    one = replay([dataset], settings, as_of, rejects=one_rejects)
    one_rejects.close()
    split_rejects = RejectsWriter(tmp_path / "split.jsonl")
    split = replay_split(
        [dataset], settings, as_of, processes=processes, partitions=4, rejects=split_rejects
    )
    split_rejects.close()
    assert split.processes == processes
    assert split.single_reason is None
    assert split.exposition() == render([one.core], one.as_of)
    assert split.as_of == one.as_of
    assert _counts(summary_line(split)) == _counts(summary_line(one))
    assert (tmp_path / "split.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()
    assert split.lines == one.lines


def test_a_split_replay_with_some_groups_and_another_timezone(dataset: Path) -> None:
    settings = KpiSettings(timezone="America/New_York", groups="web,usage")
    one = replay([dataset], settings)
    split = replay_split([dataset], settings, processes=2)
    assert split.processes == 2
    assert split.exposition() == render([one.core], one.as_of)


def test_a_replay_keeps_more_keys_thawed_than_a_worker_and_counts_the_same(
    dataset: Path,
) -> None:
    """A replay's core keeps :data:`REPLAY_HOT_KEYS` visitors thawed, a worker's
    :data:`HOT_KEYS`: a core that freezes a visitor after every other one's event gives
    the replay's exposition byte for byte."""
    one = replay([dataset], KpiSettings())
    assert one.core.hot_keys == REPLAY_HOT_KEYS > HOT_KEYS
    web = one.core.group("web")
    assert isinstance(web, WebGroup)
    assert web.hot_visitors == REPLAY_HOT_KEYS
    tight = PartitionCore(KpiSettings(), hot_keys=1)
    for line in dataset.read_bytes().splitlines():
        if line.strip():
            tight.ingest_line(line.strip(), tight.max_ts, None)
    tight.settle()
    assert tight.frozen["visitor_id"]  # it froze visitors
    assert render([tight], one.as_of) == render([one.core], one.as_of)


def test_every_share_holds_whole_partitions(dataset: Path) -> None:
    """Each key's events all land in one process, the one of its worker partition."""
    owners: dict[str, int] = {}
    for line in dataset.read_bytes().splitlines():
        key = message_key(line)
        if key is not None:
            owners[key] = contract_partition(key.encode(), 4) % 2
    assert set(owners.values()) == {0, 1}  # both shares have keys


def test_several_files_and_blank_lines(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    lines = [
        ev("user_signed_up", eid=f"s{i}", ts=f"2026-03-0{1 + i % 5}T10:00:00Z", account=f"a{i}")
        for i in range(40)
    ]
    first.write_bytes(b"\n".join(lines[:25]) + b"\n\n")
    second.write_bytes(b"\n" + b"\n".join([*lines[20:], b"{broken"]) + b"\n")
    one = replay([first, second])
    split = replay_split([first, second], processes=2)
    assert split.exposition() == render([one.core], one.as_of)
    assert _counts(summary_line(split)) == _counts(summary_line(one))


class _Recorded:
    """A progress that keeps every update."""

    def __init__(self) -> None:
        self.updates: list[tuple[int, int]] = []
        self.finished = False

    def update(self, done_bytes: int, lines: int) -> None:
        self.updates.append((done_bytes, lines))

    def finish(self) -> None:
        self.finished = True


@pytest.mark.parametrize("through", ["file", "pipe"])
def test_progress_reaches_the_whole_input(tmp_path: Path, through: str) -> None:
    """Shares that read the files themselves (a file) and a dealing parent (a pipe) both
    show the progress up to every byte and line, and count the lines as one core."""
    path = tmp_path / "events.jsonl"
    lines = [
        ev("user_signed_up", eid=f"s{i}", ts="2026-03-01T10:00:00Z", account=f"a{i}")
        for i in range(300)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n\n")
    shown = _Recorded()
    if through == "file":
        split = replay_split([path], None, END, processes=2, progress=shown)
    else:
        split = _through_fifo(tmp_path, path, as_of=END, processes=2, progress=shown)
    assert split.processes == 2
    assert split.lines == 300
    assert shown.updates[-1] == (path.stat().st_size, 300)
    assert shown.finished


def _too_late_file(path: Path) -> Path:
    """Account a1 early, then many accounts 100 days later, then a1 again early: one
    core's clock (the latest event so far) makes a1's second event too late; a share
    holding a1 alone would not."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    late = start + timedelta(days=100)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    lines = [ev("user_signed_up", eid="e0", ts=start.strftime(iso), account="a1")]
    lines += [
        ev("user_signed_up", eid=f"n{i}", ts=late.strftime(iso), account=f"n{i}") for i in range(30)
    ]
    lines.append(
        ev("session_started", eid="e1", ts=(start + timedelta(days=1)).strftime(iso), account="a1")
    )
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_a_share_that_would_miss_a_too_late_event_falls_back_to_one_core(
    tmp_path: Path,
) -> None:
    path = _too_late_file(tmp_path / "late.jsonl")
    one = replay([path])
    assert one.core.rejected["too_late"] == 1
    split = replay_split([path], processes=2)
    assert split.processes == 1
    assert split.single_reason is not None and "--as-of" in split.single_reason
    assert split.exposition() == render([one.core], one.as_of)
    assert _counts(summary_line(split)) == _counts(summary_line(one))
    # with --as-of the clock is fixed: the split holds
    as_of = datetime(2026, 4, 20, tzinfo=UTC)
    fixed = replay_split([path], as_of=as_of, processes=2)
    assert fixed.processes == 2
    assert fixed.exposition() == render([replay([path], as_of=as_of).core], as_of)


def _through_fifo(tmp_path: Path, source: Path, **kwargs: Any) -> SplitResult:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(source.read_bytes()))
    writer.start()
    try:
        return replay_split([fifo], **kwargs)
    finally:
        writer.join()


def test_a_pipe_is_split_with_as_of_and_replayed_on_one_process_without(
    dataset: Path, tmp_path: Path
) -> None:
    as_of = END - timedelta(days=1)
    split = _through_fifo(tmp_path, dataset, as_of=as_of, processes=2)
    assert split.processes == 2
    assert split.exposition() == render([replay([dataset], as_of=as_of).core], as_of)
    (tmp_path / "fifo").unlink()
    one = _through_fifo(tmp_path, dataset, processes=2)
    assert one.processes == 1 and one.single_reason is not None
    assert "--as-of" in one.single_reason
    assert one.exposition() == render([replay([dataset]).core], one.as_of)
    assert auto_processes([tmp_path / "fifo"], 4) == min(len(os.sched_getaffinity(0)), 4)


def test_auto_is_one_process_for_a_small_file(tmp_path: Path) -> None:
    path = _too_late_file(tmp_path / "small.jsonl")
    assert auto_processes([path], 4) == 1


# -- the key of a line ----------------------------------------------------------------
KEY_CASES = [
    (b'{"event_id":"e","type":"session_started","ts":"2026-03-01T10:00:00Z",'
     b'"account_id":"acme","user_id":"u"}', "acme"),
    (b'{"event_id": "e", "type": "page_viewed", "visitor_id": "v\\u0031"}', "v1"),
    (b'{"x": {"type": "page_viewed", "visitor_id": "v9"}, "type": "spend_recorded", '
     b'"source": "ads"}', "ads"),
    (b'{"type":"session_started","account_id":"a","account_id":"b"}', "b"),
    (b'{"type":"no_such_type","account_id":"a"}', None),
    (b'{"type":"session_started","account_id":7}', None),
    (b"[1,2]", None),
    (b"not json", None),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "key"), KEY_CASES)
def test_message_key_reads_the_key_field_of_the_type(raw: bytes, key: str | None) -> None:
    assert message_key(raw) == key


def test_message_key_of_a_line_only_pydantic_reads() -> None:
    """orjson refuses NaN; pydantic's JSON takes it in an extra (ignored) field: the
    event is valid and must go to its key's process."""
    raw = (
        b'{"event_id":"e1","type":"session_started","ts":"2026-03-01T10:00:00Z",'
        b'"account_id":"acme","user_id":"u1","extra":NaN}'
    )
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    model = parse_event(raw)
    if isinstance(model, Rejection):
        assert message_key(raw) is None
    else:
        assert getattr(model, TYPE_KEY[model.type]) == "acme"
        assert message_key(raw) == "acme"


# -- merging samples in one core's order ----------------------------------------------
def _family(samples: list[tuple[dict[str, str], int]]) -> Family:
    fam = Family("cs_x", "gauge", "x")
    for labels, value in samples:
        fam.add(value, **labels)
    return fam


def _paths(paths: list[str]) -> list[tuple[dict[str, str], int]]:
    return [({"path": p, "window": w}, 1) for p in paths for w in ("1d", "7d", "30d")]


def _answers(pairs: list[tuple[str, str]]) -> list[tuple[dict[str, str], int]]:
    return [({"survey": s, "answer": a, "window": "30d"}, 1) for s, a in pairs]


Build = Callable[[list[Any]], list[tuple[dict[str, str], int]]]
MERGE_CASES: dict[str, tuple[list[list[Any]], list[Any], Build]] = {
    "paths": ([["/a", "/c"], ["/b"], ["/c", "/d"]], ["/a", "/b", "/c", "/d"], _paths),
    "survey-then-answer": (
        [[("s1", "a"), ("s1", "x")], [("s0", "a"), ("s0", "y"), ("s1", "a"), ("s1", "z")]],
        [("s0", "a"), ("s0", "y"), ("s1", "a"), ("s1", "x"), ("s1", "z")],
        _answers,
    ),
    "same": ([["/a", "/b"], ["/a", "/b"]], ["/a", "/b"], _paths),
}


@pytest.mark.parametrize("case", sorted(MERGE_CASES))
def test_merge_in_order_lists_samples_as_one_core(case: str) -> None:
    shares, whole, build = MERGE_CASES[case]
    merged = merge_in_order([[_family(build(s))] for s in shares])
    assert list(merged[0].samples) == list(_family(build(whole)).samples)
    for item in whole:  # summed: one per share that has it
        for key in _family(build([item])).samples:
            assert merged[0].samples[key] == sum(1 for s in shares if item in s)


# -- the command line -----------------------------------------------------------------
def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return _too_late_file(tmp_path / "events.jsonl")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--processes", "0"], "--processes"),
        (["--processes", "two"], "'two'"),
        (["--processes", "2", "--step", "1d", "--openmetrics", "{tmp}/x.om"], "--processes"),
    ],
)
def test_replay_processes_mistakes_are_one_line(
    argv: list[str], expected: str, small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert _run(["replay", *argv, str(small)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("stream-app") and expected in err[0], err
    assert "replay: replay:" not in err[0]


def test_a_bad_partition_count_is_one_line(
    small: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CS_PARTITIONS", "several")
    assert _run(["replay", "--processes", "2", str(small)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "CS_PARTITIONS" in err[0] and "'several'" in err[0], err


def test_cli_split_writes_the_one_process_output(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outs: dict[int, bytes] = {}
    summaries: dict[int, str] = {}
    for n in (1, 2):
        out = tmp_path / f"{n}.prom"
        assert _run(["replay", "--processes", str(n), "--out", str(out), str(dataset)]) == 0
        outs[n] = out.read_bytes()
        summaries[n] = next(
            line for line in capsys.readouterr().err.splitlines() if " lines in " in line
        )
    assert outs[1] == outs[2]
    assert _counts(summaries[1]) == _counts(summaries[2])


@pytest.fixture(autouse=True)
def _no_partition_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("CS_PARTITIONS", raising=False)
    yield


# -- any events, any order, duplicates and junk: the split equals one core ------------
def _keys_per_process(processes: int, per: int) -> list[str]:
    """``per`` account ids held by each of ``processes`` processes (4 partitions)."""
    found: dict[int, list[str]] = {i: [] for i in range(processes)}
    i = 0
    while any(len(v) < per for v in found.values()):
        key = f"acct{i}"
        held = found[contract_partition(key.encode(), 4) % processes]
        if len(held) < per:
            held.append(key)
        i += 1
    return [k for v in found.values() for k in v]


SPREAD_KEYS = _keys_per_process(2, 2)
JUNK = [
    b"{",
    b"[1]",
    b"null",
    b'"text"',
    b'{"type":"session_started"}',
    b'{"type":"nope","account_id":"x"}',
    b'{"type":["session_started"],"account_id":"x"}',
    b'{"type":{"a":1},"account_id":"x"}',
    b'{"type":"session_started","account_id":5}',
]


@hypothesis_settings(max_examples=25, deadline=None)
@given(
    events=st.lists(valid_event(), min_size=1, max_size=40),
    rnd=st.randoms(use_true_random=False),
    lateness=st.sampled_from([90, 1]),
    with_as_of=st.booleans(),
)
def test_any_stream_split_equals_one_core(
    events: list[dict[str, Any]], rnd: random.Random, lateness: int, with_as_of: bool
) -> None:
    """Duplicates anywhere, junk lines, any arrival order, a lateness limit short enough
    to reject (and to make the shares' clocks disagree): the split equals one core."""
    lines = [
        orjson.dumps({**e, "event_id": f"e{i}", "account_id": rnd.choice(SPREAD_KEYS)})
        for i, e in enumerate(events)
    ]
    lines += rnd.sample(lines, k=min(len(lines), 5)) + JUNK
    rnd.shuffle(lines)
    settings = KpiSettings(max_lateness_days=lateness)
    as_of = AS_OF if with_as_of else None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        one = replay([path], settings, as_of)
        split = replay_split([path], settings, as_of, processes=2)
        # through a pipe (with --as-of): the parent deals the lines
        dealt = _through_fifo(Path(tmp), path, settings=settings, as_of=as_of, processes=2)
    assert split.exposition() == render([one.core], one.as_of)
    assert _counts(summary_line(split)) == _counts(summary_line(one))
    if as_of is not None:
        assert dealt.processes == 2
    assert dealt.exposition() == split.exposition()
    assert _counts(summary_line(dealt)) == _counts(summary_line(one))
