"""A service's HTTP routes declared once, with their pydantic models, so that the
same declaration registers the aiohttp route and writes the OpenAPI document.

Handlers stay thin: `read_body`/`read_query` parse (a ValidationError becomes a
422 naming the field in the middleware), the service does the work, `respond`
serialises.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel

from shared.errors import NotFound
from shared.http.problems import PROBLEM_JSON

M = TypeVar("M", bound=BaseModel)
HandlerFn = Callable[[web.Request], Awaitable[web.StreamResponse]]
Auth = Literal["partner", "admin", "none"]


class BodyNotJson(Exception):
    """The body could not be read as a JSON document."""


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: HandlerFn
    summary: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    auth: Auth
    tag: str
    idempotent: bool


@dataclass
class Api:
    title: str
    version: str = "1.0.0"
    description: str = ""
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        auth: Auth = "partner",
        tag: str = "default",
        idempotent: bool = False,
    ) -> Callable[[HandlerFn], HandlerFn]:
        def register(handler: HandlerFn) -> HandlerFn:
            self.endpoints.append(
                Endpoint(
                    method.upper(),
                    path,
                    handler,
                    summary,
                    body,
                    query,
                    response,
                    status,
                    auth,
                    tag,
                    idempotent,
                )
            )
            return handler

        return register

    def add_to(self, app: web.Application) -> None:
        table = app.setdefault(ENDPOINTS, {})
        for e in self.endpoints:
            table[app.router.add_route(e.method, e.path, e.handler)] = e

    def openapi(self) -> dict[str, Any]:
        schemas: dict[str, Any] = {}

        def ref(
            model: type[BaseModel], mode: Literal["validation", "serialization"]
        ) -> dict[str, str]:
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode)
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
            return {"$ref": f"#/components/schemas/{model.__name__}"}

        problem = {
            "description": "Problem details (RFC 9457)",
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        paths: dict[str, dict[str, Any]] = {}
        for e in self.endpoints:
            op: dict[str, Any] = {
                "summary": e.summary,
                "tags": [e.tag],
                "operationId": e.handler.__name__,
                "responses": {"4XX": problem},
            }
            params = [
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
                params.append(
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 200},
                        "description": "Same key and body: the first answer again, nothing new "
                        "written; same key, other body: 409.",
                    }
                )
            if params:
                op["parameters"] = params
            if e.body is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": ref(e.body, "validation")}},
                }
            ok: dict[str, Any] = {"description": "OK"}
            if e.response is not None:
                ok["content"] = {"application/json": {"schema": ref(e.response, "serialization")}}
            op["responses"][str(e.status)] = ok
            if e.auth != "none":
                op["security"] = [{"partnerKey" if e.auth == "partner" else "adminToken": []}]
            paths.setdefault(e.path, {})[e.method.lower()] = op
        schemas["Problem"] = {
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
        return {
            "openapi": "3.1.0",
            "info": {"title": self.title, "version": self.version, "description": self.description},
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "partnerKey": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "Partner API key",
                    },
                    "adminToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "Operator token",
                    },
                },
            },
        }


ENDPOINTS = web.AppKey("endpoints", dict[web.AbstractRoute, Endpoint])


def endpoint_of(request: web.Request) -> Endpoint | None:
    table = request.app.get(ENDPOINTS, {})
    return table.get(request.match_info.route)


def _path_params(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BodyNotJson(str(exc)) from None


async def read_body(request: web.Request, model: type[M]) -> M:
    return model.model_validate(await read_json(request))


def path_id(request: web.Request, name: str) -> uuid.UUID:
    """A UUID path parameter; anything else names no resource (404, naming it)."""
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise NotFound("no such resource", field=name) from None


def read_query(request: web.Request, model: type[M]) -> M:
    # Repeated parameters (?sector=a&sector=b) become lists.
    params: dict[str, Any] = {}
    for key in request.query:
        values = request.query.getall(key)
        params[key] = values if len(values) > 1 or _is_list_field(model, key) else values[0]
    return model.model_validate(params)


def _is_list_field(model: type[BaseModel], name: str) -> bool:
    info = model.model_fields.get(name)
    return info is not None and "list" in str(info.annotation)


def respond(
    model: BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=model.model_dump_json().encode(),
        status=status,
        content_type="application/json",
        headers=headers,
    )
