"""One exposition and one ``/progress`` from those of several worker processes.

``stream-app worker --processes N`` runs N workers of one consumer group behind one port
(:mod:`stream_app.worker.processes`). Their partitions are disjoint, so their samples add up
exactly as Prometheus's ``sum`` would add them over N scrape targets:

- every ``cs_*`` sample (the KPIs, and the Kafka-side counters) is summed, so the page
  is the one a single worker owning every partition would serve (``*_created`` samples,
  when a counter started: the earliest);
- the worker's own series (:data:`PER_PROCESS_PREFIX`: batches, partitions owned, the
  last batch's time, lag) keep one sample per process, labelled ``process="<i>"`` (at
  most N values): a process that owns partitions and applies nothing stays visible to
  the ``KpisStale`` alert, which matches on ``process`` too, and every rule sums them.

The pages are prometheus-client's text format 0.0.4 as the worker writes it (each family
a ``# HELP`` and a ``# TYPE`` line, then its samples, ``name{labels} value``, no
timestamps), so they are merged line by line: a sample's name and labels are the text
before its last space. Parsing them with prometheus-client's parser and writing them
again costs ~60 ms for two pages of 900 lines on an idle core (~3 ms this way), and the
supervisor would do it at every scrape on the cores the workers need; tests check the
merged page against the whole replay, family by family.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client.utils import floatToGoString

#: families of the worker itself, kept per process (label :data:`PROCESS_LABEL`)
PER_PROCESS_PREFIX = "stream_app_"
PROCESS_LABEL = "process"


def _labelled(sample: str, index: int) -> str:
    """``sample`` (``name`` or ``name{labels}``) with the label ``process="<index>"``."""
    if sample.endswith("}"):
        return f'{sample[:-1]},{PROCESS_LABEL}="{index}"}}'
    return f'{sample}{{{PROCESS_LABEL}="{index}"}}'


def _is_created(sample: str) -> bool:
    return sample.partition("{")[0].endswith("_created")


def merge_expositions(pages: Sequence[str]) -> bytes:
    """The text exposition of ``pages`` (process ``i``'s page at index ``i``) merged:
    samples of the same name and labels summed, the worker's own labelled by process (see
    the module), families and samples in first-seen order."""
    headers: dict[str, list[str]] = {}
    samples: dict[str, dict[str, float]] = {}
    for index, page in enumerate(pages):
        family: dict[str, float] | None = None
        own = False
        new: set[str] = set()
        for line in page.splitlines():
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split(" ", 3)
                if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
                    continue
                name = parts[2]
                if name not in headers:
                    headers[name], samples[name] = [], {}
                    new.add(name)
                if name in new:
                    headers[name].append(line)
                family, own = samples[name], name.startswith(PER_PROCESS_PREFIX)
                continue
            sample, _, text = line.rpartition(" ")
            if family is None:  # a sample before any header: its own family
                headers[sample], samples[sample] = [], {}
                family = samples[sample]
            if own:
                sample = _labelled(sample, index)
            value = float(text)
            old = family.get(sample)
            if old is None:
                family[sample] = value
            elif _is_created(sample):
                family[sample] = min(old, value)
            else:
                family[sample] = old + value
    out: list[str] = []
    for name, lines in headers.items():
        out += lines
        out += [f"{sample} {floatToGoString(v)}" for sample, v in samples[name].items()]
    return ("\n".join(out) + "\n").encode() if out else b""


def merge_progress(answers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One ``/progress`` of several processes' (each as ``KpiWorker.progress`` gives it):
    messages handled and trimmed summed, partitions joined, the first batch the earliest,
    the last batch and the last trim the latest (None while no process has one)."""

    def earliest(field: str) -> Any:
        found = [a[field] for a in answers if a.get(field) is not None]
        return min(found) if found else None

    def latest(field: str) -> Any:
        found = [a[field] for a in answers if a.get(field) is not None]
        return max(found) if found else None

    trims = [a.get("trimmed_handled") for a in answers]
    return {
        "handled": sum(a["handled"] for a in answers),
        "first_batch_at": earliest("first_batch_at"),
        "last_batch_at": latest("last_batch_at"),
        "partitions": sorted({p for a in answers for p in a["partitions"]}),
        "core": answers[0]["core"] if answers else None,
        "allocator": answers[0].get("allocator") if answers else None,
        # every process has trimmed once caught up: what they held then, summed
        "trimmed_at": latest("trimmed_at") if all(t is not None for t in trims) else None,
        "trimmed_handled": sum(trims) if trims and all(t is not None for t in trims) else None,
    }
