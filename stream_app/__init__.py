"""Kafka-native engine for live customer-success KPIs."""

from stream_app import compiled as _compiled

__version__ = "0.1.0"

# the compiled build of the typed core, when it matches the sources (stream_app/compiled.py)
_compiled.install()
