"""A service's HTTP routes declared once, with their pydantic models: the same
declaration registers the aiohttp route, parses and injects what the handler
needs, and writes the OpenAPI document.

A handler takes one `Call`: the typed body and query, path ids, the caller and a
unit of work the route owns (a transaction for anything but GET). It returns a
model (serialised with the declared status), `None` (the declared status, no
body) or a response of its own (CSV, iCalendar). A ValidationError becomes a 422
naming the field in the middleware; no handler parses or opens a connection by
hand. An idempotent route runs the handler once per `Idempotency-Key`, inside the
same transaction as the change.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel

from shared.envelope import Context
from shared.errors import InvalidInput, NotFound
from shared.http.idempotency import once
from shared.http.openapi import document
from shared.unit_of_work import UnitOfWork, UnitsOfWork

M = TypeVar("M", bound=BaseModel)
B = TypeVar("B")
Q = TypeVar("Q")
Result = BaseModel | web.StreamResponse | None
CallHandler = Callable[["Call[Any, Any]"], Awaitable[Result]]
HandlerFn = Callable[[web.Request], Awaitable[web.StreamResponse]]
Auth = Literal["partner", "admin", "none"]

UNITS = web.AppKey("units_of_work", UnitsOfWork)
PARTNER_ID = web.RequestKey("partner_id", uuid.UUID)
CORRELATION_ID = web.RequestKey("correlation_id", str)
# The pooled connection a request holds from authentication to its answer: one
# acquire per request, not one to check the key and another for the work.
CONNECTION = web.RequestKey("connection", Any)


class BodyNotJson(Exception):
    """The body could not be read as a JSON document."""


@dataclass
class Call(Generic[B, Q]):
    """What a route's handler gets: parsed input, who asks, and its unit of work."""

    request: web.Request
    body: B
    query: Q
    raw_body: Any
    ctx: Context
    unit: UnitOfWork | None

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def uow(self) -> UnitOfWork:
        if self.unit is None:
            raise RuntimeError("this route was declared without the database")
        return self.unit

    @property
    def conn(self) -> Any:
        return self.uow.conn

    @property
    def partner_id(self) -> uuid.UUID:
        """The signed-in partner (partner routes only)."""
        return self.request[PARTNER_ID]

    def id(self, name: str) -> uuid.UUID:
        """A UUID path parameter; anything else names no resource (404, naming it)."""
        return path_id(self.request, name)

    def path(self, name: str) -> str:
        return self.request.match_info[name]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: CallHandler
    summary: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    auth: Auth
    tag: str
    idempotent: bool
    body_optional: bool
    database: bool
    description: str = ""
    # Media types the answer may come in besides JSON (`text/csv`), as text.
    produces: tuple[str, ...] = ()
    # Path parameters that are not UUIDs: name -> their type (e.g. a Literal).
    path_types: Mapping[str, Any] = field(default_factory=dict)
    # Other answers than the declared status and 4XX problems: status -> description.
    other_statuses: Mapping[int, str] = field(default_factory=dict)
    # The body comes as an HTML form's fields (application/x-www-form-urlencoded).
    form: bool = False

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    @property
    def body_media(self) -> str:
        return "application/x-www-form-urlencoded" if self.form else "application/json"


@dataclass(frozen=True)
class Webhook:
    """A request this service makes to its subscribers, for the OpenAPI document."""

    name: str
    summary: str
    description: str
    body: type[BaseModel]
    headers: Mapping[str, str]
    responses: Mapping[str, Any]

    @property
    def operation_id(self) -> str:
        return "webhook_" + "".join(c if c.isalnum() else "_" for c in self.name)


@dataclass
class Api:
    title: str
    version: str = "1.0.0"
    description: str = ""
    endpoints: list[Endpoint] = field(default_factory=list)
    webhooks: list[Webhook] = field(default_factory=list)

    def route(  # noqa: PLR0913 - keyword-only parts of one route declaration
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
        body_optional: bool = False,
        database: bool = True,
        description: str = "",
        produces: tuple[str, ...] = (),
        path_types: Mapping[str, Any] | None = None,
        other_statuses: Mapping[int, str] | None = None,
        form: bool = False,
    ) -> Callable[[Callable[[Call[Any, Any]], Awaitable[Any]]], CallHandler]:
        """Declare a route. `body_optional`: an empty body means the body model's
        defaults; `form`: the body is an HTML form's fields, validated by the body
        model like JSON; `database=False`: the handler gets no unit of work (ops routes);
        `produces`, `path_types` and `other_statuses` only tell the OpenAPI document
        what the handler answers (see `Endpoint`)."""

        def register(handler: Callable[[Call[Any, Any]], Awaitable[Any]]) -> CallHandler:
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
                    body_optional,
                    database,
                    description,
                    produces,
                    path_types or {},
                    other_statuses or {},
                    form,
                )
            )
            return handler

        return register

    def webhook(self, hook: Webhook) -> None:
        """Declare a request subscribers receive (the document's `webhooks`)."""
        self.webhooks.append(hook)

    def add_to(self, app: web.Application) -> None:
        table = app.setdefault(ENDPOINTS, {})
        for e in self.endpoints:
            table[app.router.add_route(e.method, e.path, _bind(e))] = e

    def openapi(self) -> dict[str, Any]:
        return document(self)


ENDPOINTS = web.AppKey("endpoints", dict[web.AbstractRoute, Endpoint])


def endpoint_of(request: web.Request) -> Endpoint | None:
    table = request.app.get(ENDPOINTS, {})
    return table.get(request.match_info.route)


def _bind(e: Endpoint) -> HandlerFn:
    """The aiohttp handler of a declared route: parse, open the unit, call, respond."""

    async def handle(request: web.Request) -> web.StreamResponse:
        raw: Any = None
        body: BaseModel | None = None
        if e.body is not None:
            if e.form:
                raw = await read_form(request)
            elif e.body_optional and not request.can_read_body:
                raw = {}
            else:
                raw = await read_json(request)
            body = e.body.model_validate(raw)
        query = read_query(request, e.query) if e.query is not None else None
        ctx = caller(request)
        if not e.database:
            return _respond(e, await e.handler(Call(request, body, query, raw, ctx, None)))
        held = request.get(CONNECTION)  # the one authentication already took, if any
        async with request.app[UNITS].begin(ctx, transaction=e.writes, conn=held) as uow:
            call = Call(request, body, query, raw, ctx, uow)
            if e.idempotent:
                return await _once(e, call)
            result = await e.handler(call)
        return _respond(e, result)

    handle.__name__ = e.handler.__name__
    return handle


async def _once(e: Endpoint, call: Call[Any, Any]) -> web.StreamResponse:
    async def create() -> tuple[int, dict[str, Any]]:
        result = await e.handler(call)
        assert isinstance(result, BaseModel), "an idempotent route answers with a model"
        return e.status, result.model_dump(mode="json")

    # The same key on another resource is another request (409), hence the path.
    request = {"path": call.request.path, "body": call.raw_body}
    key = call.request.headers.get("Idempotency-Key")
    code, response = await once(call.uow.conn, call.partner_id, key, request, create)
    return web.json_response(response, status=code)


def _respond(e: Endpoint, result: Result) -> web.StreamResponse:
    if isinstance(result, web.StreamResponse):
        return result
    if result is None:
        return web.Response(status=e.status)
    return respond(result, e.status)


def caller(request: web.Request) -> Context:
    """Who asked and which flow: carried from the request into the events it causes."""
    return Context(
        correlation_id=request.get(CORRELATION_ID) or str(uuid.uuid4()),
        partner_id=request.get(PARTNER_ID),
    )


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and integers past Python's 4,300-digit limit;
        # RecursionError, documents nested deeper than the parser goes.
        raise BodyNotJson(type(exc).__name__) from None


async def read_form(request: web.Request) -> dict[str, Any]:
    """An HTML form's fields (urlencoded; any other body reads as no fields, so
    the model names what is missing). A repeated field becomes a list, which
    the model refuses for a single value, naming it."""
    fields: dict[str, Any] = {}
    if request.content_type != "application/x-www-form-urlencoded":
        return fields
    try:
        posted = await request.post()
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("the form's fields are not UTF-8 text", field="body") from None
    for key in posted:
        values = [v if isinstance(v, str) else "" for v in posted.getall(key)]
        fields[key] = values if len(values) > 1 else values[0]
    return fields


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
