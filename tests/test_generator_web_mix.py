"""The generator's web mix knobs (``web_app_visits``, ``web_pages_per_visit``): they change
the web events only, page views per visit follow the mean asked for, and the benchmark's mix
makes page views the most frequent event type, as in a real product."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bench.data import WEB_MIX
from stream_app.generator import GeneratorConfig, encode, generate_history, topic_role

END = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SMALL = GeneratorConfig(seed=3, accounts=40, days=10, end=END)


def types(cfg: GeneratorConfig) -> Counter[str]:
    return Counter(str(e["type"]) for e in generate_history(cfg))


def test_defaults_are_the_explicit_defaults() -> None:
    explicit = replace(SMALL, web_app_visits=1.0, web_pages_per_visit=None)
    assert [encode(e) for e in generate_history(SMALL)] == [
        encode(e) for e in generate_history(explicit)
    ]


@pytest.mark.parametrize(
    "change",
    [{"web_app_visits": 10.0}, {"web_pages_per_visit": 4.0}, WEB_MIX],
    ids=["app_visits", "pages_per_visit", "bench_mix"],
)
def test_knobs_change_web_events_only(change: dict[str, float]) -> None:
    base = list(generate_history(SMALL))
    other = list(generate_history(replace(SMALL, **change)))  # type: ignore[arg-type]
    assert [e for e in other if topic_role(e) != "web"] == [
        e for e in base if topic_role(e) != "web"
    ]
    web_base = sum(topic_role(e) == "web" for e in base)
    web_other = sum(topic_role(e) == "web" for e in other)
    assert web_other > 1.3 * web_base  # each knob here asks for more page views


def visits(cfg: GeneratorConfig) -> tuple[int, int]:
    """(page views, visits): a visit is a page view with no page view of the same visitor
    in the 30 minutes before it."""
    last: dict[object, datetime] = {}
    views = n = 0
    for event in generate_history(cfg):
        if event["type"] != "page_viewed":
            continue
        at = datetime.fromisoformat(str(event["ts"]))
        before = last.get(event["visitor_id"])
        if before is None or (at - before).total_seconds() > 1800:
            n += 1
        views += 1
        last[event["visitor_id"]] = at
    return views, n


@pytest.mark.parametrize("pages", [1.0, 3.0, 5.0])
def test_page_views_per_visit_follow_the_mean(pages: float) -> None:
    views, n = visits(replace(SMALL, accounts=80, web_pages_per_visit=pages))
    # geometric, capped at 12 pages; a visitor back within 30 minutes merges two visits
    assert 0.85 * pages <= views / n <= 1.2 * pages, views / n


def test_bench_mix_makes_page_views_the_most_frequent_type() -> None:
    counts = types(replace(SMALL, accounts=80, **WEB_MIX))  # type: ignore[arg-type]
    (top, _), *_ = counts.most_common(1)
    assert top == "page_viewed", counts.most_common(4)
    default = types(replace(SMALL, accounts=80))
    assert default.most_common(1)[0][0] == "feature_used"  # today's default is unchanged


@pytest.mark.parametrize(
    "change", [{"web_app_visits": -1.0}, {"web_pages_per_visit": 0.5}, {"web_pages_per_visit": 13}]
)
def test_knob_validation(change: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        replace(SMALL, **change)  # type: ignore[arg-type]
