"""The OpenAPI 3.1 document of an `Api`, written from its route declarations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from shared.http.problems import PROBLEM_JSON

if TYPE_CHECKING:
    from shared.http.api import Api, Endpoint

_PROBLEM = {
    "description": "Problem details (RFC 9457)",
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}
_PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "The first offending field"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
_SECURITY_SCHEMES = {
    "partnerKey": {"type": "http", "scheme": "bearer", "description": "Partner API key"},
    "adminToken": {"type": "http", "scheme": "bearer", "description": "Operator token"},
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 200},
    "description": "Same key and body: the first answer again, nothing new "
    "written; same key, other body: 409.",
}


class _Schemas:
    """The components' schemas, collected as operations refer to models."""

    def __init__(self) -> None:
        self.found: dict[str, Any] = {}

    def ref(
        self, model: type[BaseModel], mode: Literal["validation", "serialization"]
    ) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
        self.found.update(schema.pop("$defs", {}))
        self.found[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}


def document(api: Api) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for e in api.endpoints:
        paths.setdefault(e.path, {})[e.method.lower()] = _operation(e, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": api.title, "version": api.version, "description": api.description},
        "paths": paths,
        "components": {
            "schemas": {**schemas.found, "Problem": _PROBLEM_SCHEMA},
            "securitySchemes": _SECURITY_SCHEMES,
        },
    }


def _operation(e: Endpoint, schemas: _Schemas) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": e.summary,
        "tags": [e.tag],
        "operationId": e.handler.__name__,
        "responses": {"4XX": _PROBLEM},
    }
    params = _parameters(e)
    if params:
        op["parameters"] = params
    if e.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.ref(e.body, "validation")}},
        }
    ok: dict[str, Any] = {"description": "OK"}
    if e.response is not None:
        ok["content"] = {"application/json": {"schema": schemas.ref(e.response, "serialization")}}
    op["responses"][str(e.status)] = ok
    if e.auth != "none":
        op["security"] = [{"partnerKey" if e.auth == "partner" else "adminToken": []}]
    return op


def _parameters(e: Endpoint) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _path_params(e.path)
    ]
    if e.query is not None:
        qschema = e.query.model_json_schema()
        for name, prop in qschema.get("properties", {}).items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in qschema.get("required", []),
                    "schema": prop,
                    "description": prop.get("description", ""),
                }
            )
    if e.idempotent:
        params.append(_IDEMPOTENCY_KEY)
    return params


def _path_params(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]
