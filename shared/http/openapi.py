"""The OpenAPI 3.1 document of an `Api`, written from its route declarations.

Every schema comes from a pydantic model through one generator
(`shared.json_schema`), so component names, `$ref`s (query parameters' enums
included) and formats are those of the models that parse and serialise."""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter

from shared.http.problems import PROBLEM_JSON
from shared.http.requests import TRACE_ID_PATTERN
from shared.json_schema import Mode, Schemas, schemas_of

if TYPE_CHECKING:
    from shared.http.api import Api, Endpoint, Webhook

REF = "#/components/schemas/{model}"

_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "The first offending field"},
        "instance": {"type": "string", "description": "The request's path"},
        "errors": {
            "type": "array",
            "description": "Every offending field (validation errors)",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    "examples": [
        {
            "type": "https://roadshow.dev/problems/validation-failed",
            "title": "Validation Failed",
            "status": 422,
            "detail": "day_end: must be after day_start",
            "field": "day_end",
            "instance": "/v1/roadshows",
        }
    ],
}
_SECURITY_SCHEMES = {
    "partnerKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A partner's API key (`rs_...`), issued by the operator",
    },
    "adminToken": {"type": "http", "scheme": "bearer", "description": "The operator's token"},
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": "Same key and body: the first answer again, nothing new "
    "written; same key, other body: 409.",
}
_TRACE_ID = {"type": "string", "pattern": TRACE_ID_PATTERN}
_TRACING = [
    {
        "name": "X-Request-ID",
        "in": "header",
        "required": False,
        "schema": _TRACE_ID,
        "description": "This request's id (default: a new UUID), answered back and logged",
    },
    {
        "name": "X-Correlation-ID",
        "in": "header",
        "required": False,
        "schema": _TRACE_ID,
        "description": "The flow's id (default: the request id): in every log line, every "
        "event the request causes, and the webhooks those send",
    },
]
# Every answer names the request and its flow, so a report can be traced.
_ANSWER_HEADERS = {
    h["name"]: {"schema": _TRACE_ID, "description": str(h["description"]).split(" (")[0]}
    for h in _TRACING
}
_PROBLEM = {
    "description": "Problem details (RFC 9457) naming the offending field",
    "headers": _ANSWER_HEADERS,
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
_SERVERS = [
    {"url": "/", "description": "The host that serves this document"},
]
_SUCCESS = {
    201: "Created",
    202: "Accepted: the work goes on in the background; the answer says how to follow it",
    204: "No Content: done, nothing to answer",
}
# A schema for an answer in a media type that is not JSON (the body as text).
_TEXT = {"type": "string"}
_DOCUMENT = {"type": "object"}  # a JSON answer without a model of its own


class _Components:
    """Models met while writing operations, their schemas generated at once at the
    end so that each model has one name however many operations use it."""

    def __init__(self) -> None:
        self._models: list[tuple[type[BaseModel], Mode]] = []
        self._placeholders: list[tuple[dict[str, Any], int]] = []
        self._queries: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []

    def ref(self, model: type[BaseModel], mode: Mode) -> dict[str, Any]:
        """A schema object to be filled with the model's schema (a `$ref`)."""
        slot: dict[str, Any] = {}
        self._placeholders.append((slot, len(self._models)))
        self._models.append((model, mode))
        return slot

    def query(self, model: type[BaseModel], params: list[dict[str, Any]]) -> None:
        """Parameters to be filled with a query model's properties."""
        self._queries.append((self.ref(model, "validation"), params))

    def resolve(self) -> dict[str, Any]:
        if not self._models:
            return {}
        found, defs = schemas_of(self._models, REF)
        for slot, i in self._placeholders:
            slot.update(found[i])
        names = set()
        for slot, params in self._queries:
            names.add(name := slot["$ref"].rsplit("/", 1)[-1])
            _expand_query(defs[name], params)
        # A query model itself is no component: its properties became parameters.
        return {k: v for k, v in defs.items() if k not in names}


def document(api: Api) -> dict[str, Any]:
    components = _Components()
    paths: dict[str, dict[str, Any]] = {}
    for e in api.endpoints:
        paths.setdefault(e.path, {})[e.method.lower()] = _operation(e, components)
    webhooks = {w.name: {"post": _webhook(w, components)} for w in api.webhooks}
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": api.title, "version": api.version, "description": api.description},
        "servers": _SERVERS,
        "paths": paths,
    }
    if webhooks:
        doc["webhooks"] = webhooks
    doc["components"] = {
        "schemas": {**components.resolve(), "Problem": _PROBLEM_SCHEMA},
        "securitySchemes": _SECURITY_SCHEMES,
    }
    return doc


def _operation(e: Endpoint, components: _Components) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": e.summary,
        "tags": [e.tag],
        "operationId": e.handler.__name__,
    }
    if e.description:
        op["description"] = e.description
    op["parameters"] = _parameters(e, components)
    if e.body is not None:
        op["requestBody"] = {
            "required": not e.body_optional,
            "content": {e.body_media: {"schema": components.ref(e.body, "validation")}},
        }
    op["responses"] = {str(e.status): _success(e, components), "4XX": _PROBLEM}
    for status, description in e.other_statuses.items():
        op["responses"][str(status)] = _answer(e, components, description)
    if e.auth != "none":
        op["security"] = [{"partnerKey" if e.auth == "partner" else "adminToken": []}]
    return op


def _success(e: Endpoint, components: _Components) -> dict[str, Any]:
    phrase = _SUCCESS.get(e.status) or HTTPStatus(e.status).phrase
    if e.idempotent:
        phrase += " (the same Idempotency-Key and body answer this again)"
    return _answer(e, components, phrase)


def _answer(e: Endpoint, components: _Components, description: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "headers": _ANSWER_HEADERS}
    content: dict[str, Any] = {}
    if e.response is not None:
        content["application/json"] = {"schema": components.ref(e.response, "serialization")}
    for media_type in e.produces:
        content.setdefault(media_type, {"schema": _DOCUMENT if "json" in media_type else _TEXT})
    if content:
        answer["content"] = content
    return answer


def _parameters(e: Endpoint, components: _Components) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": _path_schema(e, name)}
        for name in path_params(e.path)
    ]
    if e.idempotent:
        params.append(_IDEMPOTENCY_KEY)
    params.extend(_TRACING)
    if e.query is not None:
        components.query(e.query, params)  # appended once the schemas are known
    return params


def _path_schema(e: Endpoint, name: str) -> dict[str, Any]:
    """A path id is a UUID unless the route says what else it is."""
    if name in e.path_types:
        return TypeAdapter(e.path_types[name]).json_schema(schema_generator=Schemas)
    return {"type": "string", "format": "uuid"}


def _expand_query(schema: dict[str, Any], params: list[dict[str, Any]]) -> None:
    required = set(schema.get("required", []))
    for name, prop in schema.get("properties", {}).items():
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if "description" in prop:
            param["description"] = prop["description"]
        if _is_list(prop):
            param["style"] = "form"
            param["explode"] = True
        params.append(param)


def _is_list(prop: dict[str, Any]) -> bool:
    options = prop.get("anyOf", [prop])
    return any(o.get("type") == "array" for o in options)


def _webhook(w: Webhook, components: _Components) -> dict[str, Any]:
    return {
        "summary": w.summary,
        "description": w.description,
        "operationId": w.operation_id,
        "tags": ["webhooks"],
        "parameters": [
            {"name": name, "in": "header", "required": True, "schema": _TEXT, "description": text}
            for name, text in w.headers.items()
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": components.ref(w.body, "serialization")}},
        },
        "responses": dict(w.responses),
    }


def path_params(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]
