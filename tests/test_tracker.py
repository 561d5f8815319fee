"""The tracker's static properties: under 3 KB minified, no dependency, no cookie."""

from __future__ import annotations

import re
from importlib import resources

import rjsmin

SOURCE = resources.files("stream_app.collect").joinpath("static/tracker.js").read_text()


def test_tracker_is_under_3_kb_minified() -> None:
    # rjsmin strips comments and whitespace (no renaming): an upper bound of what a
    # renaming minifier gives
    minified = rjsmin.jsmin(SOURCE)
    assert len(minified.encode()) < 3 * 1024, len(minified.encode())
    assert "csTrack" in minified and "sendBeacon" in minified


def test_tracker_loads_nothing_and_keeps_no_cookie() -> None:
    code = rjsmin.jsmin(SOURCE)
    assert "document.cookie" not in code and ".cookie" not in code
    assert not re.search(r"\bimport\b|\brequire\(|createElement\(\s*['\"]script", code)
    assert 'credentials:"omit"' in code  # the fetch fallback sends no cookie either


def test_tracker_sends_only_declared_web_types() -> None:
    from stream_app.contract import types_of

    sent = set(re.findall(r'send\("([a-z_]+)"', SOURCE))
    assert sent == set(types_of("web"))
