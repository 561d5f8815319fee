"""docs/kpis.md lists every worker-only metric (``stream_app_*``) the worker exports."""

from __future__ import annotations

import re

from tests.prom_stack import ROOT


def test_every_worker_metric_is_documented() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "stream_app" / "worker").glob("*.py"))
    declared = set(re.findall(r'"(stream_app_[a-z_]+)"', source))
    counters = set(re.findall(r'Counter\(\s*"(stream_app_[a-z_]+)"', source))
    assert "stream_app_batches" in counters
    assert {"stream_app_consumer_lag", "stream_app_state_flushes"} <= declared
    docs = (ROOT / "docs" / "kpis.md").read_text()
    for name in sorted(declared):
        exported = f"{name}_total" if name in counters else name
        assert f"`{exported}" in docs, f"{exported} is not in docs/kpis.md"
