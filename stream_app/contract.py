"""The event contract, v1: pydantic models, validation and rejection reasons.

This module is the public API of the pipeline. One JSON object per Kafka message,
message key = ``account_id``. Models are strict: a number sent as a string is invalid;
unknown extra fields are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

INT64_MAX = 2**63 - 1

Id = Annotated[str, Field(min_length=1, max_length=128)]
Name = Annotated[str, Field(min_length=1, max_length=64)]
Money = Annotated[int, Field(ge=0, le=INT64_MAX)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]

SURVEY_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
CHANNELS = ("email", "chat", "phone", "social", "web", "other")


class _Event(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    event_id: Id
    ts: AwareDatetime = Field(description="RFC 3339 event time with an offset")
    account_id: Id


class UserEvent(_Event):
    type: Literal["user_signed_up", "session_started", "referral_sent"]
    user_id: Id


class FeatureUsed(_Event):
    type: Literal["feature_used"]
    user_id: Id
    feature: Name


class MilestoneReached(_Event):
    type: Literal["milestone_reached"]
    user_id: Id
    milestone: Name


class SubscriptionEvent(_Event):
    type: Literal["subscription_started", "subscription_changed", "subscription_renewed"]
    plan: Annotated[str, Field(min_length=1, max_length=128)]
    mrr: Money
    currency: Currency


class SubscriptionCancelled(_Event):
    type: Literal["subscription_cancelled"]
    reason: Annotated[str, Field(max_length=1024)] | None = None


class PaymentEvent(_Event):
    type: Literal["payment_failed", "invoice_paid"]
    amount: Money
    currency: Currency


class SurveyAnswered(_Event):
    type: Literal["survey_answered"]
    user_id: Id
    survey: Literal["nps", "csat", "ces"]
    score: int

    @model_validator(mode="after")
    def _score_in_range(self) -> SurveyAnswered:
        low, high = SURVEY_RANGES[self.survey]
        if not low <= self.score <= high:
            raise ValueError(f"score_out_of_range: {self.survey} takes {low}-{high}")
        return self


class TicketOpened(_Event):
    type: Literal["ticket_opened"]
    ticket_id: Id
    channel: Literal["email", "chat", "phone", "social", "web", "other"]


class TicketResolved(_Event):
    type: Literal["ticket_resolved"]
    ticket_id: Id
    contacts: Annotated[int, Field(ge=1, le=INT64_MAX)]


ProductEvent = Annotated[UserEvent | FeatureUsed | MilestoneReached, Field(discriminator="type")]
BillingEvent = Annotated[
    SubscriptionEvent | SubscriptionCancelled | PaymentEvent, Field(discriminator="type")
]
FeedbackEvent = SurveyAnswered
SupportEvent = Annotated[TicketOpened | TicketResolved, Field(discriminator="type")]
Event = Annotated[
    UserEvent
    | FeatureUsed
    | MilestoneReached
    | SubscriptionEvent
    | SubscriptionCancelled
    | PaymentEvent
    | SurveyAnswered
    | TicketOpened
    | TicketResolved,
    Field(discriminator="type"),
]
AnyEvent = (
    UserEvent
    | FeatureUsed
    | MilestoneReached
    | SubscriptionEvent
    | SubscriptionCancelled
    | PaymentEvent
    | SurveyAnswered
    | TicketOpened
    | TicketResolved
)

#: topic role -> the union of models accepted on it
TOPIC_MODELS: dict[str, Any] = {
    "product": ProductEvent,
    "billing": BillingEvent,
    "feedback": FeedbackEvent,
    "support": SupportEvent,
}

#: event type -> topic role
TYPE_TOPIC: dict[str, str] = {
    "user_signed_up": "product",
    "session_started": "product",
    "referral_sent": "product",
    "feature_used": "product",
    "milestone_reached": "product",
    "subscription_started": "billing",
    "subscription_changed": "billing",
    "subscription_renewed": "billing",
    "subscription_cancelled": "billing",
    "payment_failed": "billing",
    "invoice_paid": "billing",
    "survey_answered": "feedback",
    "ticket_opened": "support",
    "ticket_resolved": "support",
}
EVENT_TYPES: tuple[str, ...] = tuple(TYPE_TOPIC)
PRODUCT_TYPES = frozenset(t for t, role in TYPE_TOPIC.items() if role == "product")

#: Every reason an event can be rejected for (the `reason` label of
#: ``cs_events_rejected_total``).
REJECTION_REASONS: tuple[str, ...] = (
    "invalid_json",  # not UTF-8 JSON (also: too deeply nested)
    "not_object",  # valid JSON, but not an object
    "unknown_type",  # `type` is not one of the contract's types
    "missing_field",  # a required field (including `type`) is absent
    "invalid_field",  # a field is empty, too long, of the wrong JSON type or out of bounds
    "invalid_timestamp",  # `ts` is not RFC 3339 with an offset (naive timestamps included)
    "score_out_of_range",  # a survey score outside its survey's range
    "too_large",  # the message is bigger than the configured maximum
    "wrong_topic",  # worker only: a valid type on a topic that does not carry it
    "key_mismatch",  # worker only: the message key is not the event's account_id
    "currency",  # money in a currency with no configured exchange rate
    "too_late",  # older than the longest window (worker: by the wall clock)
    "future",  # too far ahead of the wall clock (worker only)
)

_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(Event)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an input was refused; ``detail`` is for the dead-letter record, never a label."""

    reason: str
    detail: str


def _reason_for(exc: ValidationError) -> Rejection:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    kind = first["type"]
    loc = first["loc"]
    detail = f"{'.'.join(str(p) for p in loc) or '<root>'}: {first['msg']}"
    if kind == "json_invalid" or kind == "json_type":
        return Rejection("invalid_json", detail)
    if kind in ("model_attributes_type", "dict_type", "model_type") and len(loc) == 0:
        return Rejection("not_object", detail)
    if kind == "union_tag_invalid":
        return Rejection("unknown_type", detail)
    if kind == "union_tag_not_found" or kind == "missing":
        return Rejection("missing_field", detail)
    for err in errors:
        if err["loc"] and err["loc"][-1] == "ts":
            return Rejection("invalid_timestamp", detail)
    if kind == "value_error" and "score_out_of_range" in str(first.get("msg", "")):
        return Rejection("score_out_of_range", detail)
    return Rejection("invalid_field", detail)


def parse_event(raw: bytes | str, max_bytes: int | None = None) -> AnyEvent | Rejection:
    """Validate one message body against the contract; never raises on bad input."""
    if max_bytes is not None and len(raw) > max_bytes:
        return Rejection("too_large", f"{len(raw)} bytes > {max_bytes}")
    try:
        return _ADAPTER.validate_json(raw)
    except ValidationError as exc:
        return _reason_for(exc)
    except (ValueError, RecursionError) as exc:  # pragma: no cover - defensive
        return Rejection("invalid_json", type(exc).__name__)


def json_schemas() -> dict[str, dict[str, object]]:
    """The contract as JSON Schema documents, one per topic role plus the union of all."""
    out: dict[str, dict[str, object]] = {}
    for role, model in TOPIC_MODELS.items():
        schema = TypeAdapter(model).json_schema()
        schema["title"] = f"{role}-events (contract v1)"
        out[f"{role}-event"] = schema
    schema = _ADAPTER.json_schema()
    schema["title"] = "any event (contract v1)"
    out["event"] = schema
    return out
