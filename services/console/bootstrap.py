"""Wiring, from settings: the console's app (templates, session, translations,
static files, the API client). Nothing is created at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import get_session
from aiohttp_session import setup as setup_session
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from babel.support import NullTranslations
from cryptography.fernet import Fernet

from services.console import i18n
from services.console.clients import Services
from services.console.http.render import SERVICES, api_errors
from services.console.http.routes import FAIR_MINIMUM, routes
from services.console.http.security import LANGUAGE, Handler, csrf_check, security_headers
from services.console.settings import ConsoleSettings

HERE = Path(__file__).parent
COOKIE = "roadshow_console"
CATALOGUES = web.AppKey("catalogues", dict[str, NullTranslations])


def create_app(settings: ConsoleSettings) -> web.Application:
    app = web.Application(middlewares=[security_headers])
    storage = EncryptedCookieStorage(
        Fernet(settings.session_key.get_secret_value()),
        cookie_name=COOKIE,
        httponly=True,
        samesite="Strict",
        secure=settings.cookie_secure,
        max_age=settings.session_max_age_seconds,
    )
    setup_session(app, storage)  # appends its middleware: the ones below run inside it
    app.middlewares.extend([language_middleware, api_errors, csrf_check])
    app[CATALOGUES] = i18n.load_catalogues()
    app[FAIR_MINIMUM] = settings.fair_minimum
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(i18n.raw_gettext, i18n.raw_ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["when"] = i18n.when
    env.filters["clock"] = i18n.clock
    env.filters["day"] = i18n.day
    env.globals["static"] = static_url
    services = Services(
        {
            "registration": settings.registration_url,
            "matching": settings.matching_url,
            "notification": settings.notification_url,
        },
        settings.api_timeout_seconds,
    )
    app[SERVICES] = services
    app.cleanup_ctx.append(_client(services))
    app.router.add_routes(routes)
    app.router.add_static("/static/", HERE / "static", name="static")
    return app


def static_url(name: str) -> str:
    return f"/static/{name}"


def _client(services: Services):  # type: ignore[no-untyped-def]
    async def ctx(_: web.Application) -> AsyncIterator[None]:
        await services.open()
        yield
        await services.close()

    return ctx


@web.middleware
async def language_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The viewer's choice (kept in the session) or else the browser's Accept-Language."""
    session = await get_session(request)
    lang = session.get(LANGUAGE) or i18n.negotiate(request.headers.get("Accept-Language"))
    i18n.set_language(str(lang), request.app[CATALOGUES])
    response = await handler(request)
    response.headers["Content-Language"] = i18n.language()
    return response
