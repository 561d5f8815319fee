"""One day of product usage: sessions, feature use, referrals and in-app NPS answers."""

from __future__ import annotations

from bisect import bisect
from math import log
from random import Random

from stream_app.generator.accounts import DAYTIME, DAYTIME_JITTER, Account, User, work_time
from stream_app.generator.clock import MS_PER_DAY, US_PER_SEC, new_id
from stream_app.generator.sink import DaySink
from stream_app.generator.support import nps_score

DAYTIME_MS = tuple(q // 1_000 for q in DAYTIME)
_QUANTILES = len(DAYTIME)
_JITTER = DAYTIME_JITTER // 1_000
_N_GAPS = 1024
#: quantiles of the time between two feature uses in a session (exponential, mean 90 s),
#: in milliseconds; cheaper than ``expovariate`` in the hot loop
_GAPS = tuple(1 + int(-log(1.0 - (i + 0.5) / _N_GAPS) * 90_000) for i in range(_N_GAPS))
_JOIN_GAP = 600_000  # mean milliseconds from signing up to the first session
_AFTER_JOINING = 30 * 60 * US_PER_SEC  # earliest referral or NPS answer after signing up


def activity_day(acct: Account, rng: Random, sink: DaySink, weekday_factor: float) -> None:
    """Append the day's product events of ``acct``'s users (call it for customers only).

    This is the hot loop of the generator (nine events in ten come from here), hence the
    inlined sampling from quantile tables (time of day, gaps between feature uses), the
    millisecond-of-day arithmetic on small ints and the ``bisect`` feature choice.
    """
    day_start = sink.day_start
    tz, aid, off = acct.sdk_tz, acct.account_id, acct.local_off_us // 1_000
    append, rand, bits = sink.items.append, rng.random, rng.getrandbits
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
            append((t, tz, event))
            used = 0
            while used < 10 and rand() < 0.7:  # geometric: 2.3 feature uses per session
                used += 1
                t += _GAPS[int(rand() * _N_GAPS)]
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
                append((t, tz, event))
        if rand() < 0.002 * (1.0 + acct.health):
            _user_event(sink, rng, acct, user, {"type": "referral_sent"})
        if rand() < 0.012:
            answer: dict[str, object] = {"type": "survey_answered", "survey": "nps"}
            answer["score"] = nps_score(rng, acct.health)
            _user_event(sink, rng, acct, user, answer)


def _user_event(
    sink: DaySink, rng: Random, acct: Account, user: User, fields: dict[str, object]
) -> None:
    event: dict[str, object] = {
        "event_id": new_id(rng),
        "type": fields.pop("type"),
        "ts": "",
        "account_id": acct.account_id,
        "user_id": user.user_id,
    }
    event.update(fields)
    ts = work_time(rng, sink.day_start, acct.local_off_us)
    sink.add(max(ts, user.joined_us + _AFTER_JOINING), event, acct.sdk_tz)
