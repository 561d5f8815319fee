"""The contract as pydantic models, built from :mod:`stream_app.contract.declared`.

Models are strict (a number sent as a string is invalid) and ignore unknown extra fields.
:func:`parse_event` is the definition of validity and of each rejection's reason; the
fast path (:mod:`stream_app.contract.fast`) only ever agrees with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    create_model,
    model_validator,
)

from stream_app.contract.declared import (
    EVENT_TYPES_DECLARED,
    REJECTION_REASONS,
    TOPICS,
    TYPE_KEY,
    VERSION,
    Choice,
    CurrencyCode,
    EventType,
    Integer,
    Kind,
    Text,
    types_of,
)
from stream_app.contract.event import Event
from stream_app.contract.kinds import satisfies
from stream_app.contract.render import describe_kind


class EventModel(BaseModel):
    """What every event has; each type's model adds ``type`` and its own fields."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    type: str  # each type's model narrows it to its name (the union's discriminator)
    event_id: Annotated[str, Field(min_length=1, max_length=128)]
    ts: AwareDatetime = Field(description="RFC 3339 event time with an offset")

    @model_validator(mode="after")
    def _dependent_bounds(self) -> EventModel:
        for name, rule in _DEPENDENT.get(self.type, ()):
            bound = rule.bounds.get(getattr(self, rule.field))
            value = getattr(self, name)
            if value is not None and bound is not None and not satisfies(bound, value):
                raise ValueError(f"{rule.reason}: {name} out of bounds for {rule.field}")
        return self


def annotation(kind: Kind) -> Any:
    """The pydantic type of a field kind."""
    if isinstance(kind, Text):
        return Annotated[str, Field(min_length=kind.min_len or None, max_length=kind.max_len)]
    if isinstance(kind, Integer):
        return Annotated[int, Field(ge=kind.low, le=kind.high)]
    if isinstance(kind, Choice):
        return Literal[kind.values]
    if isinstance(kind, CurrencyCode):
        return Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    raise TypeError(kind)  # pragma: no cover - the declaration's kinds are closed


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _model(spec: EventType) -> type[EventModel]:
    fields: dict[str, Any] = {"type": (Literal[spec.name], ...)}
    for f in spec.fields:
        kind = annotation(f.kind)
        desc = f.doc or None
        if f.depends_on is not None:
            rule = f.depends_on
            per = ", ".join(f"{v}: {describe_kind(k)}" for v, k in rule.bounds.items())
            desc = f"bounds by {rule.field}: {per} (else {rule.reason})"
        if f.optional:
            fields[f.name] = (kind | None, Field(None, description=desc))
        else:
            fields[f.name] = (kind, Field(..., description=desc))
    model: type[EventModel] = create_model(
        _camel(spec.name), __base__=EventModel, __doc__=spec.doc or None, **fields
    )
    return model


_DEPENDENT = {
    t.name: tuple((f.name, f.depends_on) for f in t.fields if f.depends_on is not None)
    for t in EVENT_TYPES_DECLARED
}
#: event type -> its model
MODELS: dict[str, type[EventModel]] = {t.name: _model(t) for t in EVENT_TYPES_DECLARED}


def _union(types: list[str]) -> Any:
    members = tuple(MODELS[t] for t in types)
    if len(members) == 1:
        return members[0]
    return Annotated[Union[members], Field(discriminator="type")]  # noqa: UP007


#: topic role -> the union of models accepted on it
TOPIC_MODELS: dict[str, Any] = {
    t.role: _union([n for n in MODELS if n in types_of(t.role)]) for t in TOPICS
}
AnyEvent = EventModel
_ADAPTER: TypeAdapter[EventModel] = TypeAdapter(_union(list(MODELS)))


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
    if kind == "value_error":
        said = str(first.get("msg", "")).removeprefix("Value error, ").split(":", 1)[0]
        if said in REJECTION_REASONS:
            return Rejection(said, detail)
    return Rejection("invalid_field", detail)


def message_key(event: EventModel | Event) -> str:
    """The value of the event's topic key field: its Kafka message key (of a model, or of
    the fast path's :class:`Event`)."""
    return str(getattr(event, TYPE_KEY[event.type]))


def parse_event(raw: bytes | str, max_bytes: int | None = None) -> EventModel | Rejection:
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
    """The contract as JSON Schema documents: one per topic role, one per event type
    (``types/<type>``), and the union of all (``event``)."""
    out: dict[str, dict[str, object]] = {}
    for role, model in TOPIC_MODELS.items():
        schema = TypeAdapter(model).json_schema()
        schema["title"] = f"{role}-events (contract v{VERSION})"
        out[f"{role}-event"] = schema
    for name, model in MODELS.items():
        schema = model.model_json_schema()
        schema["title"] = f"{name} (contract v{VERSION})"
        out[f"types/{name}"] = schema
    schema = _ADAPTER.json_schema()
    schema["title"] = f"any event (contract v{VERSION})"
    out["event"] = schema
    return out
