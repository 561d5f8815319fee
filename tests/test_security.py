"""Security basics: secrets stay secret, endpoints bind to loopback by default."""

from __future__ import annotations

import logging

import faust
import pytest

from stream_app.settings import Settings
from stream_app.worker.broker_auth import broker_credentials


def test_password_is_secret_in_repr_dump_and_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CS_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CS_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("CS_SASL_USERNAME", "svc")
    monkeypatch.setenv("CS_SASL_PASSWORD", "hunter2-very-secret")
    settings = Settings()
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("stream_app").info("settings: %s / %r", settings, settings)
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
    assert "hunter2" not in caplog.text
    creds = broker_credentials(settings)
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.username == "svc"
    assert creds.password == "hunter2-very-secret"  # only handed to the Kafka client


@pytest.mark.parametrize(
    ("protocol", "kind"), [("PLAINTEXT", type(None)), ("SSL", faust.SSLCredentials)]
)
def test_plaintext_and_tls(protocol: str, kind: type) -> None:
    assert isinstance(broker_credentials(Settings(security_protocol=protocol)), kind)


def test_sasl_without_credentials_is_refused() -> None:
    with pytest.raises(ValueError, match="SASL needs"):
        broker_credentials(Settings(security_protocol="SASL_PLAINTEXT"))


def test_endpoints_bind_to_loopback_by_default() -> None:
    assert Settings().web_host == "127.0.0.1"
