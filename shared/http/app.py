"""The aiohttp app factory every service builds on: middlewares, /healthz,
/readyz, /metrics, /openapi.json and /docs."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, SecretStr

from shared.db import create_pool
from shared.http import docs as docs_page
from shared.http.api import UNITS, Api, Call, respond
from shared.http.middleware import (
    ADMIN_TOKEN,
    POOL,
    authenticate,
    problem_errors,
    request_context,
)
from shared.settings import ServiceSettings
from shared.unit_of_work import UnitsOfWork

ReadinessCheck = Callable[[], Awaitable[bool]]
READINESS = web.AppKey("readiness", dict[str, ReadinessCheck])


def create_base_app(
    api: Api,
    *,
    max_body_bytes: int,
    admin_token: SecretStr | None = None,
) -> web.Application:
    app = web.Application(
        client_max_size=max_body_bytes,
        middlewares=[request_context, problem_errors, authenticate],
    )
    app[ADMIN_TOKEN] = admin_token or SecretStr("")
    app[READINESS] = {}
    spec: dict[str, Any] = {}  # the platform's /openapi.json serves it, once written
    platform = _platform_api(api.title, spec)
    platform.add_to(app)
    api.add_to(app)
    spec.update(served_document(api, platform))
    return app


def served_document(api: Api, platform: Api | None = None) -> dict[str, Any]:
    """The OpenAPI document a service serves: its routes and the platform's."""
    platform = platform or _platform_api(api.title, {})
    whole = dataclasses.replace(api, endpoints=[*api.endpoints, *platform.endpoints])
    return whole.openapi()


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadinessOut(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, bool] = Field(description="Each dependency and loop: healthy or not")


def _platform_api(title: str, spec: dict[str, Any]) -> Api:
    """The routes every service has: liveness, readiness, metrics, its documents."""
    platform = Api(title=title)

    @platform.route(
        "GET",
        "/healthz",
        summary="The process is alive",
        response=HealthOut,
        auth="none",
        tag="ops",
        database=False,
    )
    async def healthz(_: Call[None, None]) -> HealthOut:
        return HealthOut(status="ok")

    @platform.route(
        "GET",
        "/readyz",
        summary="Database, broker and background work are healthy",
        response=ReadinessOut,
        other_statuses={503: "Not ready: the checks that failed are false"},
        auth="none",
        tag="ops",
        database=False,
    )
    async def readyz(call: Call[None, None]) -> web.StreamResponse:
        results = await _run_checks(call.app[READINESS])
        ok = all(results.values())
        out = ReadinessOut(status="ready" if ok else "not ready", checks=results)
        return respond(out, 200 if ok else 503)

    @platform.route(
        "GET",
        "/metrics",
        summary="Prometheus metrics",
        produces=("text/plain",),
        auth="none",
        tag="ops",
        database=False,
    )
    async def metrics(_: Call[None, None]) -> web.StreamResponse:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @platform.route(
        "GET",
        "/openapi.json",
        summary="This API's OpenAPI document",
        produces=("application/json",),
        auth="none",
        tag="ops",
        database=False,
    )
    async def openapi(_: Call[None, None]) -> web.StreamResponse:
        return web.json_response(spec)

    @platform.route(
        "GET",
        "/docs",
        summary="This API's reference (Swagger UI)",
        produces=("text/html",),
        auth="none",
        tag="ops",
        database=False,
    )
    async def docs(_: Call[None, None]) -> web.StreamResponse:
        return web.Response(text=docs_page.page(title), content_type="text/html")

    @platform.route(
        "GET",
        docs_page.ASSETS_PATH + "/{name}",
        summary="The reference page's scripts and styles",
        produces=("text/css", "text/javascript", "image/png"),
        path_types={"name": Literal[docs_page.ASSETS]},
        auth="none",
        tag="ops",
        database=False,
    )
    async def docs_asset(call: Call[None, None]) -> web.StreamResponse:
        return docs_page.asset(call.path("name"))

    return platform


async def _run_checks(checks: dict[str, ReadinessCheck]) -> dict[str, bool]:
    results = {}
    for name, check in checks.items():
        try:
            results[name] = await check()
        except Exception:
            results[name] = False
    return results


def create_service_app(
    api: Api,
    settings: ServiceSettings,
    *,
    producer: str,
    topic: str,
    admin_token: SecretStr | None = None,
) -> web.Application:
    """`create_base_app` plus the service's database pool (opened on start-up,
    closed on clean-up, and part of readiness) and the units of work its routes
    run in (events from `producer`, to `topic`)."""
    app = create_base_app(api, max_body_bytes=settings.http_max_body_bytes, admin_token=admin_token)

    async def database(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(settings.database_url.get_secret_value(), settings.db_pool_max)
        app[POOL] = pool
        app[UNITS] = UnitsOfWork(pool, producer, topic)

        async def db_ready() -> bool:
            return bool(await pool.fetchval("SELECT true"))

        app[READINESS]["database"] = db_ready
        yield
        await pool.close()

    app.cleanup_ctx.append(database)
    return app
