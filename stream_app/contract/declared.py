"""The event contract, declared once: every topic and every event type with its fields.

Everything else is derived from this module: the pydantic models and the unions per
topic (:mod:`stream_app.contract.models`), the fast path's per-type checks
(:mod:`stream_app.contract.fast`), the attributes of the :class:`Event` the core reads
(:mod:`stream_app.contract.event`, generated), the topic settings and CLI flags
(:mod:`stream_app.settings`), the JSON Schema files (``schemas/``) and the contract table
of the docs (``docs/contract.md``). ``stream-app schemas`` writes the generated files;
``stream-app schemas --check`` (run by ``./dev check`` and the tests) fails on drift.

Contract changes are additive and versioned: a new type, a new topic or a new optional
field raises the minor version; nothing valid before becomes invalid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: contract version (additive changes raise the minor number). 1.1 added the web and
#: company topics, commerce events on billing, and the optional ``account_name``.
VERSION = "1.1"

INT64_MAX = 2**63 - 1


# -- field kinds ---------------------------------------------------------------------
@dataclass(frozen=True)
class Text:
    """A string of ``min_len`` to ``max_len`` characters, taken as sent."""

    max_len: int
    min_len: int = 1


@dataclass(frozen=True)
class Integer:
    """A JSON integer (never a float or a string) from ``low`` to ``high``."""

    low: int | None = None
    high: int | None = None


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of strings."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class CurrencyCode:
    """An ISO 4217 code: three upper-case ASCII letters."""


Kind = Text | Integer | Choice | CurrencyCode


@dataclass(frozen=True)
class DependsOn:
    """The field's bounds depend on another field's value (e.g. a score on its survey):
    out of the bounds given for that value is rejected as ``reason``."""

    field: str
    bounds: dict[str, Kind]
    reason: str


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: Kind
    #: absent (or null) is allowed; it reads as the kind's empty value, or None
    optional: bool = False
    depends_on: DependsOn | None = None
    doc: str = ""


@dataclass(frozen=True)
class Topic:
    """A source topic: its role (the name used everywhere in code and settings), its
    default name, and the field that is its message key (state, deduplication and the
    ``key_mismatch`` check are per value of that field)."""

    role: str
    default_name: str
    key: str
    doc: str = ""


@dataclass(frozen=True)
class EventType:
    name: str
    topic: str  # a Topic role
    fields: tuple[FieldSpec, ...] = field(default=())
    doc: str = ""


# -- the shared field shapes -----------------------------------------------------------
ID = Text(128)
NAME = Text(64)
MONEY = Integer(0, INT64_MAX)
CURRENCY = CurrencyCode()
SURVEY_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
CHANNELS = ("email", "chat", "phone", "social", "web", "other")

ACCOUNT_ID = FieldSpec("account_id", ID, doc="the customer account (the message key)")
USER_ID = FieldSpec("user_id", ID)
#: v1.1: the account's display name; the latest one by ts wins
ACCOUNT_NAME = FieldSpec("account_name", Text(128), optional=True, doc="the account's name")
VISITOR_ID = FieldSpec("visitor_id", ID, doc="the visitor (the message key)")
PATH = FieldSpec("path", Text(512), doc="the page path, taken as sent")
SOURCE = FieldSpec("source", NAME, doc="the message key")
VISIT_SURVEYS = ("intent", "task_completion")
EMPLOYEE_SURVEY_RANGES: dict[str, tuple[int, int]] = {"enps": (0, 10), "satisfaction": (1, 5)}


# -- topics ----------------------------------------------------------------------------
TOPICS: tuple[Topic, ...] = (
    Topic("product", "product-events", "account_id", "what users do in the product"),
    Topic("billing", "billing-events", "account_id", "subscriptions, invoices, payments"),
    Topic("feedback", "feedback-events", "account_id", "survey answers"),
    Topic("support", "support-events", "account_id", "support tickets"),
    Topic("web", "web-events", "visitor_id", "what visitors do on web pages (v1.1)"),
    Topic("company", "company-events", "source", "spend, social and employee voice (v1.1)"),
)


# -- event types -------------------------------------------------------------------------
def _user(name: str, doc: str, *more: FieldSpec) -> EventType:
    return EventType(name, "product", (ACCOUNT_ID, USER_ID, *more), doc)


def _subscription(name: str, doc: str) -> EventType:
    return EventType(
        name,
        "billing",
        (
            ACCOUNT_ID,
            FieldSpec("plan", Text(128)),
            FieldSpec("mrr", MONEY, doc="monthly recurring revenue, minor units"),
            FieldSpec("currency", CURRENCY),
            ACCOUNT_NAME,
        ),
        doc,
    )


def _payment(name: str, doc: str) -> EventType:
    return EventType(
        name,
        "billing",
        (
            ACCOUNT_ID,
            FieldSpec("amount", MONEY, doc="minor units"),
            FieldSpec("currency", CURRENCY),
        ),
        doc,
    )


EVENT_TYPES_DECLARED: tuple[EventType, ...] = (
    _user(
        "user_signed_up",
        "a user signed up (the account's first one starts onboarding)",
        ACCOUNT_NAME,
    ),
    _user("session_started", "a user started a session"),
    _user("referral_sent", "a user referred someone"),
    EventType(
        "feature_used",
        "product",
        (ACCOUNT_ID, USER_ID, FieldSpec("feature", NAME)),
        "a user used a feature (a bounded label)",
    ),
    EventType(
        "milestone_reached",
        "product",
        (ACCOUNT_ID, USER_ID, FieldSpec("milestone", NAME)),
        "a user reached an onboarding milestone",
    ),
    _subscription("subscription_started", "a subscription starts (trial if mrr is 0)"),
    _subscription("subscription_changed", "plan or MRR changes"),
    _subscription("subscription_renewed", "a renewal"),
    EventType(
        "subscription_cancelled",
        "billing",
        (ACCOUNT_ID, FieldSpec("reason", Text(1024, min_len=0), optional=True), ACCOUNT_NAME),
        "the subscription ends",
    ),
    _payment("payment_failed", "a payment failed"),
    _payment("invoice_paid", "an invoice was paid"),
    EventType(
        "survey_answered",
        "feedback",
        (
            ACCOUNT_ID,
            USER_ID,
            FieldSpec("survey", Choice(tuple(SURVEY_RANGES))),
            FieldSpec(
                "score",
                Integer(),
                depends_on=DependsOn(
                    "survey",
                    {s: Integer(low, high) for s, (low, high) in SURVEY_RANGES.items()},
                    "score_out_of_range",
                ),
            ),
        ),
        "an NPS (0-10), CSAT (1-5) or CES (1-7) answer",
    ),
    EventType(
        "ticket_opened",
        "support",
        (ACCOUNT_ID, FieldSpec("ticket_id", ID), FieldSpec("channel", Choice(CHANNELS))),
        "a support ticket was opened",
    ),
    EventType(
        "ticket_resolved",
        "support",
        (
            ACCOUNT_ID,
            FieldSpec("ticket_id", ID),
            FieldSpec("contacts", Integer(1, INT64_MAX), doc="contacts it took"),
        ),
        "a support ticket was resolved",
    ),
    # -- v1.1: commerce on billing-events -------------------------------------------------
    EventType(
        "checkout_started",
        "billing",
        (
            ACCOUNT_ID,
            FieldSpec("checkout_id", ID),
            FieldSpec("amount", MONEY, doc="minor units"),
            FieldSpec("currency", CURRENCY),
        ),
        "a self-serve checkout started (abandoned unless an order follows within a day)",
    ),
    EventType(
        "order_placed",
        "billing",
        (
            ACCOUNT_ID,
            FieldSpec("order_id", ID),
            FieldSpec("checkout_id", ID, optional=True, doc="the checkout it converts"),
            FieldSpec("amount", MONEY, doc="minor units"),
            FieldSpec("currency", CURRENCY),
        ),
        "an order (counted once per order_id)",
    ),
    # -- v1.1: web-events, keyed by visitor_id -----------------------------------------------
    EventType(
        "page_viewed",
        "web",
        (
            VISITOR_ID,
            PATH,
            FieldSpec("referrer", Text(2048, min_len=0), optional=True),
            FieldSpec("account_id", ID, optional=True, doc="a signed-in visitor's account"),
            FieldSpec("user_id", ID, optional=True, doc="a signed-in visitor's user"),
        ),
        "a page was shown",
    ),
    EventType(
        "page_left",
        "web",
        (
            VISITOR_ID,
            PATH,
            FieldSpec(
                "engaged_ms",
                Integer(0, 86_400_000),
                doc="time the page was visible and focused",
            ),
            FieldSpec("max_scroll_pct", Integer(0, 100), doc="deepest scroll, percent"),
        ),
        "a page was left (hidden or closed)",
    ),
    EventType(
        "link_shown",
        "web",
        (VISITOR_ID, FieldSpec("link", NAME, doc="a CTA, banner, e-mail or ad name")),
        "a marked link came into view (once per page view)",
    ),
    EventType(
        "link_clicked",
        "web",
        (VISITOR_ID, FieldSpec("link", NAME, doc="a CTA, banner, e-mail or ad name")),
        "a marked link was clicked",
    ),
    EventType(
        "visit_survey_answered",
        "web",
        (
            VISITOR_ID,
            FieldSpec("survey", Choice(VISIT_SURVEYS)),
            FieldSpec(
                "answer",
                NAME,
                depends_on=DependsOn(
                    "survey",
                    {"intent": NAME, "task_completion": Choice(("yes", "no"))},
                    "invalid_field",
                ),
            ),
        ),
        "a visitor's stated intent, or whether they completed their task",
    ),
    # -- v1.1: company-events, keyed by source -----------------------------------------------
    EventType(
        "spend_recorded",
        "company",
        (
            SOURCE,
            FieldSpec("category", Choice(("marketing", "salaries", "overhead"))),
            FieldSpec("amount", MONEY, doc="minor units"),
            FieldSpec("currency", CURRENCY),
        ),
        "money spent on acquiring customers (campaigns, salaries, overhead)",
    ),
    EventType(
        "social_interaction",
        "company",
        (
            SOURCE,
            FieldSpec("interaction", Choice(("mention", "comment", "share", "like"))),
            FieldSpec(
                "sentiment",
                Choice(("positive", "neutral", "negative")),
                optional=True,
                doc="absent = neutral",
            ),
        ),
        "an interaction on a social network",
    ),
    EventType(
        "employee_survey_answered",
        "company",
        (
            SOURCE,
            FieldSpec("survey", Choice(tuple(EMPLOYEE_SURVEY_RANGES))),
            FieldSpec(
                "score",
                Integer(),
                depends_on=DependsOn(
                    "survey",
                    {s: Integer(lo, hi) for s, (lo, hi) in EMPLOYEE_SURVEY_RANGES.items()},
                    "score_out_of_range",
                ),
            ),
        ),
        "an employee's eNPS (0-10) or satisfaction (1-5) answer",
    ),
)

#: the fields every event has, before its type's own
COMMON_FIELDS = ("event_id", "type", "ts")

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
    "key_mismatch",  # worker only: the message key is not the event's key field
    "currency",  # money in a currency with no configured exchange rate
    "too_late",  # older than the longest window (worker: by the wall clock)
    "future",  # too far ahead of the wall clock (worker only)
)

# -- derived indexes ---------------------------------------------------------------------
TOPIC_BY_ROLE: dict[str, Topic] = {t.role: t for t in TOPICS}
TOPIC_ROLES: tuple[str, ...] = tuple(TOPIC_BY_ROLE)
TYPES: dict[str, EventType] = {t.name: t for t in EVENT_TYPES_DECLARED}
#: event type -> topic role
TYPE_TOPIC: dict[str, str] = {t.name: t.topic for t in EVENT_TYPES_DECLARED}
#: event type -> the field that keys its state (its topic's message key)
TYPE_KEY: dict[str, str] = {t.name: TOPIC_BY_ROLE[t.topic].key for t in EVENT_TYPES_DECLARED}
EVENT_TYPES: tuple[str, ...] = tuple(TYPES)
#: the distinct key fields, in declaration order
KEY_FIELDS: tuple[str, ...] = tuple(dict.fromkeys(t.key for t in TOPICS))


def types_of(role: str) -> frozenset[str]:
    """The event types a topic carries."""
    return frozenset(t for t, r in TYPE_TOPIC.items() if r == role)


PRODUCT_TYPES = types_of("product")


def types_keyed_by(key_field: str) -> frozenset[str]:
    """The event types of the topics keyed by ``key_field``."""
    return frozenset(t for t, k in TYPE_KEY.items() if k == key_field)


#: the event types of the account-keyed topics (they make their account known)
ACCOUNT_TYPES = types_keyed_by("account_id")


def _check() -> None:
    """The declaration is consistent (run at import: a mistake fails every test)."""
    for t in EVENT_TYPES_DECLARED:
        assert t.topic in TOPIC_BY_ROLE, f"{t.name}: unknown topic {t.topic!r}"
        names = [f.name for f in t.fields]
        assert len(names) == len(set(names)), f"{t.name}: a field is declared twice"
        assert not set(names) & set(COMMON_FIELDS), f"{t.name}: redeclares a common field"
        key = TOPIC_BY_ROLE[t.topic].key
        assert any(f.name == key and not f.optional for f in t.fields), (
            f"{t.name}: lacks its topic's key field {key!r}"
        )
        for f in t.fields:
            if f.depends_on is not None:
                assert f.depends_on.field in names, f"{t.name}.{f.name}: depends on nothing"
                assert f.depends_on.reason in REJECTION_REASONS
    assert len(TYPES) == len(EVENT_TYPES_DECLARED), "an event type is declared twice"


_check()
