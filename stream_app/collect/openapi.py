"""The collector's OpenAPI 3.1 document (``GET /openapi.json``), built for the running
settings (limits, the bearer token when one is set) and the contract's JSON Schema."""

from __future__ import annotations

from typing import Any

import orjson

from stream_app.collect.settings import CollectSettings
from stream_app.contract import REJECTION_REASONS, VERSION, json_schemas

_BODY_ERRORS = ("invalid_json", "empty", "too_many_events", "too_large")


def _components(schema: dict[str, Any], name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A pydantic JSON Schema with its ``$defs`` moved to ``components/schemas``."""
    text = orjson.dumps(schema).decode().replace("#/$defs/", "#/components/schemas/")
    doc = orjson.loads(text)
    defs = doc.pop("$defs", {})
    defs[name] = doc
    return defs, {"$ref": f"#/components/schemas/{name}"}


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def openapi(s: CollectSettings) -> dict[str, Any]:
    schemas = json_schemas()
    defs, any_event = _components(schemas["event"], "Event")
    web_defs, web_event = _components(schemas["web-event"], "WebEvent")
    defs.update(web_defs)
    n = s.collect_max_events
    limits = (
        f"At most {s.collect_max_body_bytes} bytes and {n} events a request; each event at "
        f"most {s.max_message_bytes} bytes (larger: rejected as too_large)."
    )

    def body(event: dict[str, Any], plain: bool) -> dict[str, Any]:
        many = {"type": "array", "items": event, "minItems": 1, "maxItems": n}
        content: dict[str, Any] = {
            "application/json": {"schema": {"oneOf": [event, many]}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        }
        if plain:
            content["text/plain"] = {"schema": {"type": "string"}}
        return {"required": True, "content": content}

    retry = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}}
    common: dict[str, Any] = {
        "202": {
            "description": "every accepted event was acknowledged by Kafka (acks=all); "
            "the rejected ones (if any) were not produced",
            "content": _json("Result"),
        },
        "400": {
            "description": "the body is not JSON or NDJSON, holds no event, or every event "
            "was rejected (nothing was produced)",
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/Error"},
                            {"$ref": "#/components/schemas/Result"},
                        ]
                    }
                }
            },
        },
        "413": {
            "description": "body or event count over the limit, or an event over the "
            "topic's size limit (the broker refused it: retrying cannot help)",
            "content": _json("Error"),
        },
        "503": {
            "description": "Kafka did not acknowledge in time: retry after Retry-After "
            "seconds (events are deduplicated by event_id, so re-sending is safe)",
            "headers": retry,
            "content": _json("Error"),
        },
    }
    events_op: dict[str, Any] = {
        "summary": "events of any declared type, validated and produced to their topic",
        "description": f"One event object, a JSON array of events, or NDJSON. {limits}",
        "operationId": "postEvents",
        "requestBody": body(any_event, plain=False),
        "responses": {
            **common,
            "403": {
                "description": "sent from a browser page whose Origin is not allowed",
                "content": _json("Error"),
            },
        },
    }
    if s.collect_token is not None:
        events_op["security"] = [{"bearer": []}]
        events_op["responses"]["401"] = {
            "description": "missing or wrong bearer token",
            "content": _json("Error"),
        }
    cors = {
        "Access-Control-Allow-Origin": {
            "schema": {"type": "string"},
            "description": "the request's Origin, when it is in CS_COLLECT_ORIGINS",
        }
    }
    web_op: dict[str, Any] = {
        "summary": "the browser tracker's endpoint: web events only, no cookies",
        "description": (
            "What navigator.sendBeacon sends (text/plain), or JSON. Types of other topics "
            "are rejected as wrong_topic. A browser Origin must be in CS_COLLECT_ORIGINS. "
            f"Rate limited per client ({s.collect_rate} events/s, bursts of "
            f"{s.collect_burst}). {limits}"
        ),
        "operationId": "postWeb",
        "requestBody": body(web_event, plain=True),
        "responses": {
            **common,
            "202": {**common["202"], "headers": cors},
            "403": {"description": "Origin not allowed", "content": _json("Error")},
            "429": {
                "description": "over the client's rate",
                "headers": retry,
                "content": _json("Error"),
            },
        },
    }
    preflight = {
        "summary": "CORS preflight",
        "operationId": "preflightWeb",
        "responses": {
            "204": {"description": "the Origin is allowed", "headers": cors},
            "403": {"description": "Origin not allowed", "content": _json("Error")},
        },
    }
    text = {"text/plain": {"schema": {"type": "string"}}}
    defs["Result"] = {
        "type": "object",
        "required": ["accepted", "rejected"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 0},
            "rejected": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["index", "reason", "detail"],
                    "properties": {
                        "index": {"type": "integer", "minimum": 0},
                        "reason": {"enum": list(REJECTION_REASONS)},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    }
    defs["Error"] = {
        "type": "object",
        "required": ["error", "detail"],
        "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
    }
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "stream-app collector",
            "version": f"contract {VERSION}",
            "description": "HTTP ingest for the event contract: validated events are "
            "produced to Kafka (acks=all) and acknowledged only after the broker did. "
            f"Whole-body errors: {', '.join(_BODY_ERRORS)}.",
        },
        "paths": {
            "/v1/events": {"post": events_op},
            "/v1/web": {"post": web_op, "options": preflight},
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics of the collector",
                    "operationId": "metrics",
                    "responses": {"200": {"description": "text exposition", "content": text}},
                }
            },
            "/tracker.js": {
                "get": {
                    "summary": "the browser tracker",
                    "operationId": "tracker",
                    "responses": {
                        "200": {
                            "description": "JavaScript",
                            "content": {"application/javascript": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "200 when connected to Kafka, else 503",
                    "operationId": "health",
                    "responses": {
                        "200": {"description": "connected", "content": _json("Health")},
                        "503": {
                            "description": "not connected",
                            "headers": retry,
                            "content": _json("Health"),
                        },
                    },
                }
            },
        },
        "components": {"schemas": defs},
    }
    defs["Health"] = {
        "type": "object",
        "required": ["kafka"],
        "properties": {"kafka": {"enum": ["up", "down"]}},
    }
    if s.collect_token is not None:
        doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return doc
