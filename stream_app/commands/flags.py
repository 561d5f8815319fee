"""Command-line flags that override settings (``CS_`` environment variables)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from stream_app.commands.errors import port, positive_int, processes_arg
from stream_app.contract import TOPICS
from stream_app.settings import Settings, topic_field

WORKER_FLAGS: dict[str, tuple[Any, str]] = {
    "broker": (str, "Kafka URL, e.g. kafka://127.0.0.1:9092 (CS_BROKER)"),
    "app_id": (str, "Faust app id = consumer group (CS_APP_ID)"),
    "partitions": (positive_int, "partition count of every topic (CS_PARTITIONS)"),
    "web_host": (str, "bind address of /metrics and the HTTP API (CS_WEB_HOST)"),
    "web_port": (port, "port of /metrics and the HTTP API (CS_WEB_PORT)"),
    "timezone": (str, "IANA timezone of calendar days (CS_TIMEZONE)"),
    "groups": (str, "KPI groups to run: all, or names separated by commas (CS_GROUPS)"),
    "data_dir": (str, "Faust data directory (CS_DATA_DIR)"),
    "processes": (
        processes_arg,
        "worker processes behind one port, one consumer group: a number, or auto for one "
        "per CPU (CS_PROCESSES)",
    ),
    # one --topic-<role> flag per topic of the contract (stream_app/contract/declared.py)
    **{
        topic_field(t.role): (str, f"{t.role} events topic (CS_{topic_field(t.role).upper()})")
        for t in TOPICS
    },
    "topic_dead_letters": (str, "dead-letter topic (CS_TOPIC_DEAD_LETTERS)"),
}


def add_flags(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    """Add the ``--<name>`` flags of ``names`` (keys of :data:`WORKER_FLAGS`); the help
    shows the setting's default (the flag itself defaults to None: the ``CS_`` variable,
    else the setting's default, applies)."""
    for name in names:
        kind, text = WORKER_FLAGS[name]
        default = Settings.model_fields[name].default
        parser.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=kind,
            help=f"{text}; default: {default}",
        )


def overrides(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    """Settings fields of ``names`` given on the command line."""
    return {n: getattr(args, n) for n in names if getattr(args, n, None) is not None}
