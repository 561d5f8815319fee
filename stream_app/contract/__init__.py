"""The event contract: declared once (:mod:`.declared`), with everything derived from it.

This package is the public API of the pipeline: :func:`parse_event` (pydantic, the
definition of validity), :class:`EventParser` (the fast path the core uses, same outcome),
:class:`Event` (what the core applies), and the declaration's indexes.
"""

from stream_app.contract.declared import (
    ACCOUNT_TYPES,
    CHANNELS,
    EVENT_TYPES,
    INT64_MAX,
    KEY_FIELDS,
    PRODUCT_TYPES,
    REJECTION_REASONS,
    SURVEY_RANGES,
    TOPIC_BY_ROLE,
    TOPIC_ROLES,
    TOPICS,
    TYPE_KEY,
    TYPE_TOPIC,
    TYPES,
    VERSION,
    Topic,
    types_keyed_by,
    types_of,
)
from stream_app.contract.event import Event
from stream_app.contract.fast import EventParser
from stream_app.contract.models import (
    MODELS,
    TOPIC_MODELS,
    AnyEvent,
    EventModel,
    Rejection,
    json_schemas,
    message_key,
    parse_event,
)

__all__ = [
    "ACCOUNT_TYPES",
    "CHANNELS",
    "EVENT_TYPES",
    "INT64_MAX",
    "KEY_FIELDS",
    "MODELS",
    "PRODUCT_TYPES",
    "REJECTION_REASONS",
    "SURVEY_RANGES",
    "TOPICS",
    "TOPIC_BY_ROLE",
    "TOPIC_MODELS",
    "TOPIC_ROLES",
    "TYPES",
    "TYPE_KEY",
    "TYPE_TOPIC",
    "VERSION",
    "AnyEvent",
    "Event",
    "EventModel",
    "EventParser",
    "Rejection",
    "Topic",
    "json_schemas",
    "message_key",
    "parse_event",
    "types_keyed_by",
    "types_of",
]
