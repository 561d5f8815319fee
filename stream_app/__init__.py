"""Kafka-native engine for live customer-success KPIs."""

__version__ = "0.1.0"
