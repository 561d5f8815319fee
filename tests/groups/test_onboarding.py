"""Table-driven unit tests of the onboarding group (docs/kpis.md)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from stream_app.exposition import render
from stream_app.kpi.core import PartitionCore
from stream_app.kpi.settings import KpiSettings
from tests.helpers import ev, samples

T = datetime.fromisoformat("2026-03-10T12:00:00+00:00")  # T's day: 2026-03-10
W = '{window="30d"}'
ONBOARDING = (
    "cs_new_accounts",
    "cs_activated_accounts",
    "cs_time_to_",
    "cs_first_week_active_days",
    "cs_onboarded_accounts",
    "cs_adopted_accounts",
    "cs_referring_users",
)


def run(
    events: list[bytes], as_of: datetime = T, tz: str = "UTC", **settings: Any
) -> dict[str, float]:
    core = PartitionCore(KpiSettings(timezone=tz, **settings))
    for raw in events:
        core.ingest(raw)
    return samples(render([core], as_of))


def ours(s: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in s.items() if k.startswith(ONBOARDING)}


def signup(ts: str, account: str = "acme", user: str = "u1", eid: str | None = None) -> bytes:
    return ev("user_signed_up", eid=eid or f"s-{account}-{user}-{ts}", ts=ts, account=account,
              user_id=user)  # fmt: skip


def milestone(
    name: str, ts: str, account: str = "acme", user: str = "u1", eid: str | None = None
) -> bytes:
    return ev("milestone_reached", eid=eid or f"m-{account}-{user}-{name}-{ts}", ts=ts,
              account=account, user_id=user, milestone=name)  # fmt: skip


def session(ts: str, account: str = "acme", user: str = "u1") -> bytes:
    return ev(eid=f"a-{account}-{user}-{ts}", ts=ts, account=account, user_id=user)


def referral(ts: str, account: str = "acme", user: str = "u1") -> bytes:
    return ev("referral_sent", eid=f"r-{account}-{user}-{ts}", ts=ts, account=account,
              user_id=user)  # fmt: skip


def days_from(first: str, n: int, account: str = "acme", user: str = "u1") -> list[bytes]:
    """A session at noon on each of ``n`` consecutive days from ``first`` (a date)."""
    start = datetime.fromisoformat(f"{first}T12:00:00+00:00")
    return [session((start + timedelta(days=i)).isoformat(), account, user) for i in range(n)]


# -- signup cohort and activation ----------------------------------------------------
COHORT = [
    pytest.param([signup("2026-03-10T08:00:00Z")], (1, 0, 0), id="signup-today"),
    pytest.param([signup("2026-02-09T00:00:00Z")], (1, 0, 0), id="first-cohort-day"),
    pytest.param([signup("2026-02-08T23:59:59Z")], (0, 0, 0), id="day-before-cohort"),
    pytest.param([signup("2026-03-10T12:00:01Z")], (0, 0, 0), id="signup-after-T-not-yet"),
    pytest.param(
        [signup("2026-02-20T08:00:00Z", user="u2"), signup("2026-02-08T08:00:00Z")],
        (0, 0, 0),
        id="earliest-signup-of-the-account-decides",
    ),
    pytest.param(
        [signup("2026-02-20T08:00:00Z", account="a"), signup("2026-02-21T08:00:00Z", "b")],
        (2, 0, 0),
        id="two-accounts",
    ),
    pytest.param(
        [signup("2026-03-01T08:00:00Z"), milestone("activated", "2026-03-01T09:00:00Z")],
        (1, 1, 1),
        id="activated",
    ),
    pytest.param(
        [milestone("activated", "2026-03-01T07:00:00Z"), signup("2026-03-01T08:00:00Z")],
        (1, 1, 1),
        id="milestone-before-the-signup-event-arrives-and-happened",
    ),
    pytest.param(
        [signup("2026-03-01T08:00:00Z"), milestone("activated", "2026-03-02T08:00:00Z", user="u9")],
        (1, 1, 1),
        id="milestone-by-another-user-of-the-account",
    ),
    pytest.param(
        [
            signup("2026-03-01T08:00:00Z"),
            milestone("activated", "2026-03-02T08:00:00Z"),
            milestone("activated", "2026-03-03T08:00:00Z", user="u2"),
            milestone("activated", "2026-03-02T08:00:00Z", eid="dup"),
            milestone("activated", "2026-03-02T08:00:00Z", eid="dup"),
        ],
        (1, 1, 1),
        id="milestone-reached-several-times-counts-one-account",
    ),
    pytest.param(
        [signup("2026-01-01T08:00:00Z"), milestone("activated", "2026-01-02T08:00:00Z")],
        (0, 0, 1),
        id="old-signup-onboarded-not-new",
    ),
    pytest.param(
        [milestone("activated", "2026-03-02T08:00:00Z")],
        (0, 0, 1),
        id="activation-without-signup-event-is-onboarded",
    ),
    pytest.param(
        [signup("2026-03-01T08:00:00Z"), milestone("Activated", "2026-03-02T08:00:00Z")],
        (1, 0, 0),
        id="other-milestone-name-ignored",
    ),
    pytest.param(
        [signup("2026-03-01T08:00:00Z"), milestone("activated", "2026-03-10T12:00:01Z")],
        (1, 0, 0),
        id="milestone-after-T-not-yet",
    ),
]


@pytest.mark.parametrize(("events", "expected"), COHORT)
def test_cohort_and_activation(events: list[bytes], expected: tuple[int, int, int]) -> None:
    s = run(events)
    got = (s[f"cs_new_accounts{W}"], s[f"cs_activated_accounts{W}"], s["cs_onboarded_accounts"])
    assert got == expected


@pytest.mark.parametrize(
    ("reached", "activated"),
    [((), 0), (("activated",), 0), (("setup",), 0), (("setup", "activated"), 1)],
)
def test_every_activation_milestone_is_needed(reached: tuple[str, ...], activated: int) -> None:
    events = [signup("2026-03-01T08:00:00Z")]
    events += [milestone(m, "2026-03-02T08:00:00Z", user=m) for m in reached]
    s = run(events, activation_milestones="activated, setup")
    assert s[f"cs_activated_accounts{W}"] == activated
    assert s["cs_onboarded_accounts"] == activated


# -- time to first value / proficiency ---------------------------------------------
TTFV = [
    pytest.param(["2026-03-01T08:30:00Z"], {"3600.0": 1, "gsum": 1800}, id="half-an-hour"),
    pytest.param(["2026-03-01T09:00:00Z"], {"3600.0": 1, "gsum": 3600}, id="bound-is-inclusive"),
    pytest.param(["2026-03-01T09:00:01Z"], {"3600.0": 0, "21600.0": 1}, id="just-above-1h"),
    pytest.param(["2026-02-28T08:00:00Z"], {"3600.0": 1, "gsum": 0}, id="before-signup-is-0"),
    pytest.param(
        ["2026-03-09T08:00:00Z", "2026-03-02T08:00:00Z", "2026-03-05T08:00:00Z"],
        {"86400.0": 1, "gsum": 86400, "gcount": 1},
        id="earliest-of-several-whatever-the-order",
    ),
    pytest.param(["2026-03-10T12:00:01Z"], {"+Inf": 0, "gcount": 0}, id="after-T-not-yet"),
    pytest.param(["2026-03-01T08:00:00.9Z"], {"gsum": 0}, id="whole-seconds-truncated"),
]


@pytest.mark.parametrize(("fv_times", "expected"), TTFV)
def test_time_to_first_value(fv_times: list[str], expected: dict[str, float]) -> None:
    events = [signup("2026-03-01T08:00:00Z")]
    events += [milestone("first_value", ts, user=f"u{i}") for i, ts in enumerate(fv_times)]
    s = run(events)
    name = "cs_time_to_first_value_seconds"
    for key, value in expected.items():
        sample = f"{name}_{key}" if key in ("gsum", "gcount") else f'{name}_bucket{{le="{key}"}}'
        assert s[sample] == value, sample


def test_time_to_value_only_for_the_30d_cohort_and_custom_buckets() -> None:
    events = [
        signup("2026-02-08T08:00:00Z", account="old"),
        milestone("first_value", "2026-02-09T08:00:00Z", account="old"),
        signup("2026-02-09T08:00:00Z", account="new"),
        milestone("proficient", "2026-03-01T08:00:00Z", account="new"),
    ]
    s = run(events, time_to_proficiency_buckets="86400, 3600")
    assert s["cs_time_to_first_value_seconds_gcount"] == 0
    assert s["cs_time_to_proficiency_seconds_gcount"] == 1
    assert s["cs_time_to_proficiency_seconds_gsum"] == 20 * 86400
    assert s['cs_time_to_proficiency_seconds_bucket{le="86400.0"}'] == 0
    assert s['cs_time_to_proficiency_seconds_bucket{le="+Inf"}'] == 1
    assert not any("proficiency" in k and "21600" in k for k in s)


# -- first week -----------------------------------------------------------------------
FIRST_WEEK = [
    # signup day, (days after signup with activity), expected active days or None (excluded)
    pytest.param("2026-03-03", (), 1, id="7th-day-ended-yesterday-counts"),
    pytest.param("2026-03-04", (), None, id="7th-day-is-today-not-complete"),
    pytest.param("2026-02-02", (), 1, id="week-ended-at-window-start-counts"),
    pytest.param("2026-02-01", (), None, id="week-ended-before-window"),
    pytest.param("2026-02-20", (1, 3, 6), 4, id="days-within-the-week"),
    pytest.param("2026-02-20", (7, 8, -1), 1, id="days-outside-the-week"),
    pytest.param("2026-02-20", (0, 0, 1, 1), 2, id="a-day-counts-once"),
    pytest.param("2026-02-20", (0, 1, 2, 3, 4, 5, 6), 7, id="every-day"),
]


@pytest.mark.parametrize(("day", "after", "expected"), FIRST_WEEK)
def test_first_week_active_days(day: str, after: tuple[int, ...], expected: int | None) -> None:
    start = datetime.fromisoformat(f"{day}T09:00:00+00:00")
    events = [signup(start.isoformat())]
    events += [session((start + timedelta(days=d, hours=i)).isoformat()) for i, d in
               enumerate(after)]  # fmt: skip
    s = run(events)
    name = "cs_first_week_active_days"
    assert s[f"{name}_gcount"] == (0 if expected is None else 1)
    for le in range(8):
        want = 0 if expected is None or expected > le else 1
        assert s[f'{name}_bucket{{le="{le}.0"}}'] == want
    assert s[f"{name}_gsum"] == (expected or 0)


# -- adoption and referrals -------------------------------------------------------------
ADOPTION = [
    pytest.param(days_from("2026-03-03", 8), 1, 1, id="8-days"),
    pytest.param(days_from("2026-03-04", 7), 1, 0, id="7-days"),
    pytest.param(days_from("2026-02-01", 8), 1, 0, id="days-before-window"),
    pytest.param(days_from("2026-02-02", 15), 1, 1, id="8-days-from-window-start"),
    pytest.param(days_from("2026-02-02", 14), 1, 0, id="7-days-from-window-start"),
    pytest.param(
        days_from("2026-03-01", 4) + days_from("2026-03-05", 4, user="u2"),
        1,
        1,
        id="days-of-several-users",
    ),
    pytest.param(
        days_from("2026-03-01", 4) + days_from("2026-03-01", 4, user="u2"),
        1,
        0,
        id="same-days-of-two-users-count-once",
    ),
    pytest.param(days_from("2026-03-01", 8, account="b"), 1, 0, id="activity-of-other-account"),
]


@pytest.mark.parametrize(("activity", "onboarded", "adopted"), ADOPTION)
def test_adoption(activity: list[bytes], onboarded: int, adopted: int) -> None:
    events = [milestone("activated", "2026-01-15T08:00:00Z"), *activity]
    s = run(events)
    assert s["cs_onboarded_accounts"] == onboarded
    assert s[f"cs_adopted_accounts{W}"] == adopted


def test_adoption_min_days_setting() -> None:
    events = [milestone("activated", "2026-01-15T08:00:00Z"), *days_from("2026-03-08", 3)]
    assert run(events, adoption_min_days=3)[f"cs_adopted_accounts{W}"] == 1
    assert run(events, adoption_min_days=4)[f"cs_adopted_accounts{W}"] == 0


REFERRALS = [
    pytest.param([referral("2026-03-10T08:00:00Z")], 1, id="today"),
    pytest.param([referral("2026-02-09T00:00:00Z")], 1, id="first-window-day"),
    pytest.param([referral("2026-02-08T23:59:59Z")], 0, id="before-window"),
    pytest.param(
        [referral("2026-02-08T10:00:00Z"), referral("2026-03-01T10:00:00Z")],
        1,
        id="old-and-recent-of-one-user",
    ),
    pytest.param(
        [referral("2026-03-01T10:00:00Z"), referral("2026-03-01T10:00:00Z", user="u2")],
        2,
        id="two-users",
    ),
    pytest.param(
        [referral("2026-03-01T10:00:00Z"), referral("2026-03-01T10:00:00Z", account="b")],
        2,
        id="same-user-id-in-two-accounts",
    ),
    pytest.param([session("2026-03-01T10:00:00Z")], 0, id="session-is-not-a-referral"),
]


@pytest.mark.parametrize(("events", "expected"), REFERRALS)
def test_referring_users(events: list[bytes], expected: int) -> None:
    assert run(events)[f"cs_referring_users{W}"] == expected
    assert run(events[::-1])[f"cs_referring_users{W}"] == expected


# -- timezone ---------------------------------------------------------------------------
def test_timezone_moves_the_cohort_boundary() -> None:
    # 23:30 UTC on Feb 8 is 00:30 on Feb 9 in Berlin: inside Berlin's cohort, not UTC's
    events = [signup("2026-02-08T23:30:00Z"), milestone("first_value", "2026-02-09T00:30:00Z")]
    as_of = datetime.fromisoformat("2026-03-10T12:00:00+01:00")
    berlin = run(events, as_of, tz="Europe/Berlin")
    utc = run(events, as_of, tz="UTC")
    assert (berlin[f"cs_new_accounts{W}"], utc[f"cs_new_accounts{W}"]) == (1, 0)
    assert berlin["cs_time_to_first_value_seconds_gsum"] == 3600
    assert utc["cs_time_to_first_value_seconds_gcount"] == 0


def test_timezone_decides_first_week_days() -> None:
    # signup 10:00 in New York on Mar 1; 03:00Z on Mar 8 is still Mar 7 there (day 7)
    events = [signup("2026-03-01T15:00:00Z"), session("2026-03-08T03:00:00Z")]
    ny = run(events, datetime.fromisoformat("2026-03-10T12:00:00-04:00"), "America/New_York")
    utc = run(events, T)
    assert ny["cs_first_week_active_days_gsum"] == 2
    assert utc["cs_first_week_active_days_gsum"] == 1


# -- settings -------------------------------------------------------------------------
def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CS_ACTIVATION_MILESTONES", " activated , setup,activated")
    monkeypatch.setenv("CS_FIRST_VALUE_MILESTONE", "report_shared")
    monkeypatch.setenv("CS_PROFICIENCY_MILESTONE", "power")
    monkeypatch.setenv("CS_ADOPTION_MIN_DAYS", "5")
    monkeypatch.setenv("CS_TIME_TO_FIRST_VALUE_BUCKETS", "600,60")
    settings = KpiSettings()
    assert settings.activation_milestone_names == ("activated", "setup")
    assert (settings.first_value_milestone, settings.proficiency_milestone) == (
        "report_shared",
        "power",
    )
    assert settings.adoption_min_days == 5
    assert settings.time_to_first_value_bounds == (60.0, 600.0)
    assert settings.time_to_proficiency_bounds[-1] == 30 * 86400


@pytest.mark.parametrize(
    "bad",
    [
        {"activation_milestones": " , "},
        {"activation_milestones": "x" * 65},
        {"first_value_milestone": ""},
        {"adoption_min_days": 0},
        {"adoption_min_days": 31},
        {"time_to_first_value_buckets": "1h"},
        {"time_to_first_value_buckets": "0,60"},
        {"time_to_proficiency_buckets": "inf"},
    ],
)
def test_invalid_settings(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        KpiSettings(**bad)


def test_defaults() -> None:
    settings = KpiSettings()
    assert settings.activation_milestone_names == ("activated",)
    assert (settings.first_value_milestone, settings.proficiency_milestone) == (
        "first_value",
        "proficient",
    )
    assert settings.adoption_min_days == 8
    assert settings.time_to_first_value_bounds == (
        3600.0, 21600.0, 86400.0, 259200.0, 604800.0, 1209600.0, 2592000.0,
    )  # fmt: skip


# -- exactness: arrival order, duplicates, partitions, changelog recovery ----------------
MILESTONES = ("activated", "setup", "first_value", "proficient", "other")
START = datetime(2025, 12, 1, tzinfo=UTC)  # 100 days before T's day
Row = tuple[str, str, str, datetime, str | None]  # type, account, user, ts, milestone


def random_events(seed: int, accounts: int = 16, count: int = 1200) -> list[Row]:
    """Accounts starting on random days: users sign up within 3 days of the start,
    other events (milestones, referrals, sessions) from a day before it to 40 days after."""
    rng = random.Random(seed)
    starts = [START + timedelta(days=rng.uniform(0, 95)) for _ in range(accounts)]
    kinds = ["user_signed_up", "milestone_reached", "referral_sent", "session_started"]
    rows: list[Row] = []
    for _ in range(count):
        a = rng.randrange(accounts)
        kind = rng.choices(kinds, [1, 3, 2, 12])[0]
        offset = rng.uniform(0, 3) if kind == "user_signed_up" else rng.uniform(-1, 40)
        ts = starts[a] + timedelta(days=offset, microseconds=rng.randrange(10**6))
        name = rng.choice(MILESTONES) if kind == "milestone_reached" else None
        rows.append((kind, f"a{a}", f"u{rng.randrange(3)}", ts, name))
    return rows


def to_bytes(rows: list[Row]) -> list[bytes]:
    out = []
    for i, (kind, account, user, ts, name) in enumerate(rows):
        extra = {"milestone": name} if kind == "milestone_reached" else {}
        out.append(ev(kind, eid=f"e{i}", ts=ts.isoformat(), account=account, user_id=user,
                      **extra))  # fmt: skip
    return out


def oracle(rows: list[Row], as_of: datetime, min_days: int = 8) -> dict[str, float]:
    """The definitions of the issue, computed from scratch (UTC days)."""
    rows = [r for r in rows if r[3] <= as_of]
    today = as_of.date()
    first = today - timedelta(days=29)
    signup: dict[str, datetime] = {}
    reached: dict[tuple[str, str], datetime] = {}
    active: dict[str, set[Any]] = {}
    referrers = set()
    for kind, account, user, ts, name in rows:
        active.setdefault(account, set()).add(ts.date())
        if kind == "user_signed_up" and (account not in signup or ts < signup[account]):
            signup[account] = ts
        if kind == "milestone_reached" and name is not None:
            key = (account, name)
            if key not in reached or ts < reached[key]:
                reached[key] = ts
        if kind == "referral_sent" and ts.date() >= first:
            referrers.add((account, user))
    onboarded = {a for a in active if (a, "activated") in reached and (a, "setup") in reached}
    cohort = {a for a, ts in signup.items() if ts.date() >= first}
    adopted = {a for a in onboarded if sum(1 for d in active[a] if d >= first) >= min_days}
    out = {
        f"cs_new_accounts{W}": len(cohort),
        f"cs_activated_accounts{W}": len(cohort & onboarded),
        "cs_onboarded_accounts": len(onboarded),
        f"cs_adopted_accounts{W}": len(adopted),
        f"cs_referring_users{W}": len(referrers),
    }
    for metric, name in (("first_value", "first_value"), ("proficiency", "proficient")):
        spans = [
            max(0, (reached[a, name] - signup[a]) // timedelta(seconds=1))
            for a in cohort
            if (a, name) in reached
        ]
        out[f"cs_time_to_{metric}_seconds_gcount"] = len(spans)
        out[f"cs_time_to_{metric}_seconds_gsum"] = sum(spans)
        out[f'cs_time_to_{metric}_seconds_bucket{{le="86400.0"}}'] = sum(s <= 86400 for s in spans)
    weeks = [
        sum(1 for d in active[a] if ts.date() <= d <= ts.date() + timedelta(days=6))
        for a, ts in signup.items()
        if first - timedelta(days=7) <= ts.date() <= today - timedelta(days=7)
    ]
    out["cs_first_week_active_days_gcount"] = len(weeks)
    out["cs_first_week_active_days_gsum"] = sum(weeks)
    out['cs_first_week_active_days_bucket{le="1.0"}'] = sum(w <= 1 for w in weeks)
    return out


SETTINGS = KpiSettings(activation_milestones="activated,setup")
AS_OF = [T, T - timedelta(days=20, hours=5), T - timedelta(days=45)]


def core_of(raws: list[bytes], as_of: datetime, partition: int = 0) -> PartitionCore:
    core = PartitionCore(SETTINGS, partition)
    for raw in raws:
        core.ingest(raw, until=as_of.timestamp())  # as replay does
    return core


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("as_of", AS_OF, ids=["T", "T-20d", "T-45d"])
def test_matches_definitions_in_any_arrival_order(seed: int, as_of: datetime) -> None:
    rows = random_events(seed)
    raws = to_bytes(rows)
    in_order = ours(samples(render([core_of(raws, as_of)], as_of)))
    expected = oracle(rows, as_of)
    assert {k: in_order[k] for k in expected} == expected
    assert expected[f"cs_new_accounts{W}"] > 0 and expected["cs_onboarded_accounts"] > 0
    shuffled = raws + random.Random(seed).sample(raws, 200)  # duplicates as well
    random.Random(seed).shuffle(shuffled)
    assert ours(samples(render([core_of(shuffled, as_of)], as_of))) == in_order
    # accounts split over two partitions sum to the same families
    parts = [[r for r in shuffled if (orjson.loads(r)["account_id"] < "a5") == p] for p in (0, 1)]
    split = [core_of(part, as_of, p) for p, part in enumerate(parts)]
    assert ours(samples(render(split, as_of))) == in_order


def restore(core: PartitionCore) -> PartitionCore:
    """A new core built from the changelog records of ``core`` (through JSON)."""
    restored = PartitionCore(core.settings, core.partition)
    for name, record in core.take_dirty():
        restored.load_key(name, orjson.loads(orjson.dumps(record)))
    return restored


@pytest.mark.parametrize("seed", [4, 5])
def test_changelog_recovery_gives_the_same_families(seed: int) -> None:
    raws = to_bytes(random_events(seed))
    full = core_of(raws, T)
    expected = ours(samples(render([full], T)))
    assert ours(samples(render([restore(full)], T))) == expected
    # recovered halfway, then the rest of the stream: still the same
    half = core_of(raws[: len(raws) // 2], T)
    resumed = restore(half)
    for raw in raws[len(raws) // 2 :]:
        resumed.ingest(raw, until=T.timestamp())
    assert ours(samples(render([resumed], T))) == expected


def test_state_is_compact_and_bounded() -> None:
    events = [signup("2025-06-01T08:00:00Z"), milestone("not_configured", "2025-06-02T08:00:00Z")]
    events += [referral(f"{d}T10:00:00Z", user=f"u{i}") for i, d in enumerate(
        ["2025-06-03", "2026-02-01", "2026-03-01"])]  # fmt: skip
    events += days_from("2025-06-01", 283)  # a session every day up to 2026-03-10
    events.append(referral("2026-01-15T10:00:00Z", user="late"))  # arrives late, too old
    core = PartitionCore(KpiSettings())
    for raw in events:
        core.ingest(raw)
    group = next(g for g in core.groups if g.name == "onboarding")
    assert group.referrers_by_day == {20513: 1}  # type: ignore[attr-defined]
    record = dict(core.take_dirty())["account_id:acme"]["g"]["onboarding"]
    assert set(record) == {"s", "a", "r"}  # the unconfigured milestone is not kept
    assert record["r"] == {"u2": 20513}  # only the referral within the latest 30 days
    assert record["a"][1] == 2**37 - 1  # 37 days of activity bits
    assert len(orjson.dumps(record)) < 100


def test_describe() -> None:
    core = PartitionCore(KpiSettings(adoption_min_days=2))
    for raw in [
        milestone("activated", "2026-03-01T09:00:00Z"),
        signup("2026-03-01T08:00:00Z"),
        milestone("first_value", "2026-03-01T10:00:00Z", user="u2"),
        milestone("proficient", "2026-03-11T10:00:00Z"),  # after T
        referral("2026-03-02T08:00:00Z"),
    ]:
        core.ingest(raw)
    view = core.describe("acme", T)
    assert view is not None
    assert view["milestones"] == {
        "activated": "2026-03-01T09:00:00+00:00",
        "first_value": "2026-03-01T10:00:00+00:00",
    }
    assert view["onboarding"] == {
        "signed_up": "2026-03-01T08:00:00+00:00",
        "signup_day": "2026-03-01",
        "activated": "2026-03-01T09:00:00+00:00",
        "time_to_first_value_s": 7200,
        "time_to_proficiency_s": None,
        "first_week_active_days": 2,
        "active_days_30d": 2,
        "adopted": True,
        "referring_users_30d": 1,
    }
