"""Middlewares every service's HTTP API runs: request context (ids, log binding,
metrics), authentication by the route's declaration, and errors as problem+json."""

from __future__ import annotations

import hmac
import re
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import structlog
from aiohttp import web
from pydantic import SecretStr, ValidationError

from shared import errors, metrics
from shared.http.api import CONNECTION, CORRELATION_ID, PARTNER_ID, BodyNotJson, endpoint_of
from shared.http.problems import from_domain_error, from_validation_error, problem
from shared.http.requests import TRACE_ID_PATTERN
from shared.logging import get_logger
from shared.partner_keys import partner_for_token

log = get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ADMIN_TOKEN = web.AppKey("admin_token", SecretStr)
POOL = web.AppKey("pool", asyncpg.Pool)


TRACE_ID = re.compile(TRACE_ID_PATTERN)


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    for header in ("X-Request-ID", "X-Correlation-ID"):
        value = request.headers.get(header)
        if value is not None and not TRACE_ID.fullmatch(value):
            return problem(
                422,
                "Invalid Header",
                "1 to 128 letters, digits or . _ : / -",
                field=header,
                instance=request.path,
            )
    request_id = request.headers.get("X-Request-ID") or str(uuid.uuid4())
    correlation_id = request.headers.get("X-Correlation-ID") or request_id
    request[CORRELATION_ID] = correlation_id
    route = request.match_info.route.resource
    route_name = route.canonical if route is not None else "unmatched"
    started = time.perf_counter()
    status = 500
    with structlog.contextvars.bound_contextvars(
        correlation_id=correlation_id, request_id=request_id
    ):
        try:
            response = await handler(request)
            status = response.status
        finally:
            elapsed = time.perf_counter() - started
            metrics.HTTP_REQUESTS.labels(route_name, request.method, str(status)).inc()
            metrics.HTTP_LATENCY.labels(route_name, request.method).observe(elapsed)
            if not route_name.startswith(("/healthz", "/readyz", "/metrics")):
                log.info(
                    "http.request",
                    method=request.method,
                    route=route_name,
                    status=status,
                    ms=round(elapsed * 1000, 1),
                )
    response.headers["X-Request-ID"] = request_id
    response.headers["X-Correlation-ID"] = correlation_id
    return response


@web.middleware
async def problem_errors(  # noqa: PLR0911 - one answer per kind of error: the mapping table
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    instance = request.path
    try:
        return await handler(request)
    except errors.DomainError as exc:
        return from_domain_error(exc, instance)
    except ValidationError as exc:
        return from_validation_error(exc, instance)
    except BodyNotJson:
        return problem(
            400,
            "Malformed Body",
            "the body is not a JSON document",
            field="body",
            instance=instance,
        )
    except web.HTTPRequestEntityTooLarge as exc:
        return problem(413, "Body Too Large", exc.text, field="body", instance=instance)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem(exc.status, exc.reason, instance=instance, headers=None)
    except Exception:
        log.exception("http.unhandled_error", path=instance)
        return problem(500, "Internal Error", "the error was logged", instance=instance)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    endpoint = endpoint_of(request)
    if endpoint is None or endpoint.auth == "none":
        return await handler(request)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise errors.Unauthenticated("send 'Authorization: Bearer <key>'", field="Authorization")
    if endpoint.auth == "admin":
        expected = request.app[ADMIN_TOKEN].get_secret_value()
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            raise errors.Forbidden("not an operator token", field="Authorization")
        return await handler(request)
    async with request.app[POOL].acquire() as conn:
        partner_id = await partner_for_token(conn, token)
        if partner_id is None:
            raise errors.Unauthenticated("unknown or revoked API key", field="Authorization")
        request[PARTNER_ID] = partner_id
        request[CONNECTION] = conn
        with structlog.contextvars.bound_contextvars(partner_id=str(partner_id)):
            return await handler(request)
