"""Kafka security settings -> Faust broker credentials (secrets stay SecretStr until here)."""

from __future__ import annotations

import ssl
from typing import Any

import faust

from stream_app.settings import Settings


def broker_credentials(s: Settings) -> Any:
    """``None`` for PLAINTEXT; SASL (PLAIN/SCRAM) and/or TLS credentials otherwise."""
    context: ssl.SSLContext | None = None
    if s.security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=s.ssl_cafile)
    if s.security_protocol.startswith("SASL"):
        if not (s.sasl_mechanism and s.sasl_username and s.sasl_password):
            raise ValueError("SASL needs CS_SASL_MECHANISM, CS_SASL_USERNAME, CS_SASL_PASSWORD")
        return faust.SASLCredentials(
            username=s.sasl_username,
            password=s.sasl_password.get_secret_value(),
            ssl_context=context,
            mechanism=s.sasl_mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None
