"""``stream-app backfill``: JSONL files in, a Prometheus data directory with history out
(the command is in :mod:`stream_app.commands.history`, beside ``replay --openmetrics``)."""

from stream_app.commands.history import add_backfill

__all__ = ["add_backfill"]
