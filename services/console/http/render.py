"""Rendering a page with what every page shows (language, CSRF token, sign-in
state, a flash message), and the one place API errors become pages."""

from __future__ import annotations

from typing import Any

import aiohttp
import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from services.console.clients import ApiError, Services
from services.console.http.security import Handler, csrf_token, signed_in_key
from services.console.i18n import language
from shared.logging import get_logger

log = get_logger(__name__)

SERVICES = web.AppKey("services", Services)
FLASH = "flash"


async def page(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    session = await get_session(request)
    common = {
        "lang": language(),
        "csrf": await csrf_token(request),
        "signed_in": await signed_in_key(request) is not None,
        "flash": session.pop(FLASH, None),
        "here": request.path_qs,
    }
    return aiohttp_jinja2.render_template(template, request, {**common, **context}, status=status)


async def flash(request: web.Request, message: str) -> None:
    """A message shown once, on the next page (after a redirect)."""
    session = await get_session(request)
    session[FLASH] = message


def safe_next(value: object, default: str = "/") -> str:
    """Only a path on this console (no scheme, no //host): no open redirect."""
    text = value if isinstance(value, str) else ""
    if text.startswith("/") and not text.startswith("//") and "\\" not in text:
        return text
    return default


@web.middleware
async def api_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A service's 404 is the console's 404 (another partner's ids do not exist here
    either); an expired or revoked key signs the viewer out; anything else is a 502
    page that says which call failed, never a stack trace."""
    try:
        return await handler(request)
    except ApiError as exc:
        if exc.status == 401:
            session = await get_session(request)
            session.invalidate()
            raise web.HTTPFound("/sign-in") from None
        status = 404 if exc.status in (403, 404) else 502
        return await page(request, "error.html", {"status": status, "detail": exc.detail}, status)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("console.api_unreachable", path=request.path, error=type(exc).__name__)
        return await page(request, "error.html", {"status": 503, "detail": ""}, 503)
