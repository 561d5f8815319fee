"""The collector's configuration: ``CS_``-prefixed environment variables or flags
(pydantic-settings), on top of the worker's broker, topic and security settings (the
collector writes to the same topics the workers read, with the same credentials)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from stream_app.settings import Settings


class CollectSettings(Settings):
    """``stream-app collect``: the HTTP ingest service."""

    collect_host: str = Field("127.0.0.1", description="bind address of the collector")
    collect_port: int = Field(6080, ge=0, le=65535, description="port of the collector")
    collect_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="browser origins allowed on /v1/web, comma-separated ('*': any)",
    )
    collect_max_body_bytes: int = Field(
        1_048_576, ge=1024, description="larger request bodies are refused (413)"
    )
    collect_max_events: int = Field(
        1000, ge=1, description="more events in one request are refused (413)"
    )
    collect_rate: float = Field(
        20.0, gt=0, description="/v1/web: events per second per client (token bucket)"
    )
    collect_burst: int = Field(200, ge=1, description="/v1/web: token bucket size per client")
    collect_client_header: str | None = Field(
        None,
        description="header naming the client address behind a trusted proxy "
        "(e.g. X-Forwarded-For; its first entry); unset: the peer address",
    )
    collect_token: SecretStr | None = Field(
        None, description="bearer token /v1/events requires (unset: none)"
    )
    collect_produce_timeout_s: float = Field(
        10.0, gt=0, description="longest wait for the broker's acknowledgement (then 503)"
    )
    collect_retry_after_s: int = Field(5, ge=1, description="Retry-After of a 503")
    collect_linger_ms: int = Field(5, ge=0, description="producer linger (batching) in ms")

    @field_validator("collect_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value
