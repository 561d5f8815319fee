"""The worker's configuration: flags or ``CS_``-prefixed environment variables
(pydantic-settings): broker, topics and endpoints on top of the KPI core's settings
(:class:`stream_app.kpi.settings.KpiSettings`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, SecretStr, create_model, field_validator

from stream_app.allocator import Allocator
from stream_app.contract import TOPIC_ROLES, TOPICS
from stream_app.kpi.settings import KpiSettings


def topic_field(role: str) -> str:
    """The setting (and ``CS_`` variable, and ``--flag``) naming a topic: ``topic_<role>``."""
    return f"topic_{role}"


if TYPE_CHECKING:
    TopicSettings = BaseModel
else:
    #: one ``topic_<role>`` setting per declared topic, defaulting to its declared name
    TopicSettings = create_model(
        "TopicSettings",
        **{
            topic_field(t.role): (str, Field(t.default_name, description=f"the {t.role} topic"))
            for t in TOPICS
        },
    )


class Settings(KpiSettings, TopicSettings):
    """Worker settings: broker, topics and endpoints on top of the KPI settings."""

    future_tolerance_s: float = Field(
        300.0, ge=0, description="events more than this ahead of the wall clock -> future"
    )
    broker: str = Field("kafka://127.0.0.1:9092", description="Kafka bootstrap URL(s)")
    app_id: str = Field("cs-kpi", description="Faust app id = consumer group")
    partitions: int = Field(4, ge=1, description="partition count of every topic")
    topic_dead_letters: str = "cs-dead-letters"
    topic_account_health: str = Field(
        "account-health", description="health band changes are published here"
    )
    replication: int = Field(1, ge=1)
    web_host: str = Field("127.0.0.1", description="bind address of /metrics and the HTTP API")
    web_port: int = Field(6066, ge=0, le=65535, description="port of /metrics")
    data_dir: str = Field("./.stream-app-data", description="Faust's local data directory")
    processes: int = Field(
        1,
        ge=1,
        le=256,
        description="worker processes of this command, one consumer group behind one port "
        "(auto: one per CPU; stream_app/worker/processes.py)",
    )
    allocator: Allocator = Field(
        "auto",
        description="memory allocator of `stream-app worker`: jemalloc for every object "
        "(auto: when libjemalloc.so.2 is installed; python: CPython's own), which returns "
        "what a backlog leaves behind where CPython's arenas keep it (stream_app/allocator.py)",
    )
    batch_hook: bool = Field(True, description="consumer-level batches (False: a Faust agent)")
    batch_size: int = Field(2000, ge=1, description="agent path: events applied at once")
    batch_within_s: float = Field(0.2, gt=0, description="max wait to fill a batch")
    commit_interval_s: float = Field(
        1.0, gt=0, description="offset commits; changed state is written just before each"
    )
    fetch_max_wait_ms: int = Field(
        100, ge=0, description="longest a broker holds a fetch with no new data (Faust: 1500)"
    )
    max_poll_records: int | None = Field(
        5000,
        ge=1,
        description="most records one fetch hands the worker (None: every record the "
        "fetched batches hold, up to 1 MB a partition). The records of a fetch live at once; "
        "state created while they do is scattered among them, and the allocator's pools they "
        "leave keep the RSS up: 5000 holds ~11 MB less per 100k users than no cap; 2000 "
        "~2 MB less again, but it split live fetches and delayed events (BENCHMARKS.md)",
    )
    session_timeout_s: float = Field(10.0, gt=0, description="consumer group session timeout")
    heartbeat_interval_s: float = Field(
        0.5,
        gt=0,
        description="how often a member heartbeats, i.e. how soon it learns that the group "
        "rebalances and stops applying what its partitions' new owners will apply again "
        "(Kafka: 3 s); at most a third of the session timeout",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None

    @field_validator("processes", mode="before")
    @classmethod
    def _auto_processes(cls, value: Any) -> Any:
        return os.cpu_count() or 1 if value == "auto" else value

    def topic_names(self) -> dict[str, str]:
        """Topic role -> topic name."""
        values: dict[str, Any] = self.__dict__
        return {role: str(values[topic_field(role)]) for role in TOPIC_ROLES}
