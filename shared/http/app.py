"""The aiohttp app factory every service builds on: middlewares, /healthz,
/readyz, /metrics, /openapi.json and /docs."""

from __future__ import annotations

import html
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr

from shared.db import create_pool
from shared.http.api import UNITS, Api, Call
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
    spec = api.openapi()
    platform = _platform_api(api.title, spec)
    platform.add_to(app)
    api.add_to(app)
    spec["paths"].update(platform.openapi()["paths"])
    return app


def _platform_api(title: str, spec: dict[str, Any]) -> Api:
    """The routes every service has: liveness, readiness, metrics, its documents."""
    platform = Api(title=title)

    @platform.route(
        "GET", "/healthz", summary="The process is alive", auth="none", tag="ops", database=False
    )
    async def healthz(_: Call[None, None]) -> web.StreamResponse:
        return web.json_response({"status": "ok"})

    @platform.route(
        "GET",
        "/readyz",
        summary="Database, broker and background work are healthy",
        auth="none",
        tag="ops",
        database=False,
    )
    async def readyz(call: Call[None, None]) -> web.StreamResponse:
        results = await _run_checks(call.app[READINESS])
        ok = all(results.values())
        return web.json_response(
            {"status": "ready" if ok else "not ready", "checks": results}, status=200 if ok else 503
        )

    @platform.route(
        "GET", "/metrics", summary="Prometheus metrics", auth="none", tag="ops", database=False
    )
    async def metrics(_: Call[None, None]) -> web.StreamResponse:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @platform.route(
        "GET",
        "/openapi.json",
        summary="This API's OpenAPI document",
        auth="none",
        tag="ops",
        database=False,
    )
    async def openapi(_: Call[None, None]) -> web.StreamResponse:
        return web.json_response(spec)

    @platform.route(
        "GET",
        "/docs",
        summary="Human-readable API reference",
        auth="none",
        tag="ops",
        database=False,
    )
    async def docs(_: Call[None, None]) -> web.StreamResponse:
        return web.Response(text=render_docs(spec), content_type="text/html")

    return platform


async def _run_checks(checks: dict[str, ReadinessCheck]) -> dict[str, bool]:
    results = {}
    for name, check in checks.items():
        try:
            results[name] = await check()
        except Exception:
            results[name] = False
    return results


def render_docs(spec: dict[str, object]) -> str:
    """A self-contained reference page (no CDN): every operation, its parameters,
    and its request and response schemas."""
    info = spec["info"]
    assert isinstance(info, dict)
    rows = []
    paths = spec["paths"]
    assert isinstance(paths, dict)
    for path, ops in paths.items():
        for method, op in ops.items():
            params = "".join(
                f"<li><code>{html.escape(p['name'])}</code> ({p['in']})"
                f"{' required' if p.get('required') else ''} {html.escape(p.get('description', ''))}</li>"
                for p in op.get("parameters", [])
            )
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            body_ref = body.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
            rows.append(
                f"<section><h3><span class=m>{method.upper()}</span> <code>{html.escape(path)}</code></h3>"
                f"<p>{html.escape(op.get('summary', ''))}</p>"
                + (f"<ul>{params}</ul>" if params else "")
                + (f"<p>Body: <a href='#{body_ref}'>{body_ref}</a></p>" if body_ref else "")
                + "</section>"
            )
    components = spec.get("components", {})
    assert isinstance(components, dict)
    schemas = "".join(
        f"<section id='{html.escape(name)}'><h3>{html.escape(name)}</h3>"
        f"<pre>{html.escape(json.dumps(schema, indent=2))}</pre></section>"
        for name, schema in components.get("schemas", {}).items()
    )
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(str(info['title']))} API</title>"
        "<style>body{font:15px system-ui;max-width:60em;margin:2em auto}"
        ".m{background:#234;color:#fff;padding:0 .4em;border-radius:3px}"
        "pre{background:#f4f4f4;padding:1em;overflow:auto}</style></head><body>"
        f"<h1>{html.escape(str(info['title']))}</h1><p>{html.escape(str(info.get('description', '')))}</p>"
        "<p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>. "
        "Errors are RFC 9457 problem details naming the offending <code>field</code>.</p>"
        f"<h2>Operations</h2>{''.join(rows)}<h2>Schemas</h2>{schemas}</body></html>"
    )


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
