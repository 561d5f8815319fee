"""One day of product usage: sessions, feature use, referrals and in-app NPS answers."""

from __future__ import annotations

from bisect import bisect
from math import log
from random import Random

from stream_app.generator.accounts import DAYTIME, DAYTIME_JITTER, Account, work_time
from stream_app.generator.clock import MS_PER_DAY, new_id
from stream_app.generator.sink import DaySink
from stream_app.generator.support import nps_score

DAYTIME_MS = tuple(q // 1_000 for q in DAYTIME)
_QUANTILES = len(DAYTIME)
_JITTER = DAYTIME_JITTER // 1_000
_FEATURE_GAP = 90_000  # mean milliseconds between two feature uses in a session
_JOIN_GAP = 600_000  # mean milliseconds from signing up to the first session


def activity_day(acct: Account, rng: Random, sink: DaySink, weekday_factor: float) -> None:
    """Append the day's product events of ``acct``'s users (call it for customers only).

    This is the hot loop of the generator (nine events in ten come from here), hence the
    inlined sampling: table-driven time of day, ``-log(1 - u)`` exponentials, ``bisect``
    feature choice.
    """
    day_start = sink.day_start
    tz, aid, off = acct.sdk_tz, acct.account_id, acct.local_off_us // 1_000
    items, seq = sink.items, sink.seq
    append, rand, bits = items.append, rng.random, rng.getrandbits
    users = acct.users
    for j in acct.members:
        user = users[j]
        chance = user.propensity * weekday_factor
        if day_start < user.onboarding_until_us:
            chance = min(0.97, chance * 1.5)  # onboarding week: new users explore
        if rand() >= chance:
            continue
        uid, features, cuts, total = user.user_id, user.features, user.cuts, user.total
        joined = (user.joined_us - day_start) // 1_000 if user.joined_us > day_start else -1
        sessions = 1 + (rand() < 0.45) + (rand() < 0.15)
        for _ in range(sessions):
            # times are milliseconds since the day's start from here on
            t = (DAYTIME_MS[int(rand() * _QUANTILES)] + int(rand() * _JITTER) - off) % MS_PER_DAY
            if t < joined:
                t = joined + int(-log(1.0 - rand()) * _JOIN_GAP) + 1
                if t >= MS_PER_DAY:
                    continue
            event: dict[str, object] = {
                "event_id": bits(128).to_bytes(16, "little").hex(),
                "type": "session_started",
                "ts": "",
                "account_id": aid,
                "user_id": uid,
            }
            append((t, seq, tz, event))
            seq += 1
            used = 0
            while used < 10 and rand() < 0.7:  # geometric: 2.3 feature uses per session
                used += 1
                t += int(-log(1.0 - rand()) * _FEATURE_GAP) + 1
                if t >= MS_PER_DAY:
                    break
                event = {
                    "event_id": bits(128).to_bytes(16, "little").hex(),
                    "type": "feature_used",
                    "ts": "",
                    "account_id": aid,
                    "user_id": uid,
                    "feature": features[bisect(cuts, rand() * total)],
                }
                append((t, seq, tz, event))
                seq += 1
        sink.seq = seq
        if rand() < 0.002 * (1.0 + acct.health):
            _user_event(sink, rng, acct, uid, {"type": "referral_sent"})
        if rand() < 0.012:
            answer: dict[str, object] = {"type": "survey_answered", "survey": "nps"}
            answer["score"] = nps_score(rng, acct.health)
            _user_event(sink, rng, acct, uid, answer)
        seq = sink.seq


def _user_event(
    sink: DaySink, rng: Random, acct: Account, user_id: str, fields: dict[str, object]
) -> None:
    event: dict[str, object] = {
        "event_id": new_id(rng),
        "type": fields.pop("type"),
        "ts": "",
        "account_id": acct.account_id,
        "user_id": user_id,
    }
    event.update(fields)
    sink.add(work_time(rng, sink.day_start, acct.local_off_us), event, acct.sdk_tz)
