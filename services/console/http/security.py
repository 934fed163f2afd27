"""Sign-in state, CSRF and security headers.

The partner's API key lives only in the session, an encrypted (Fernet), HttpOnly,
SameSite=Strict cookie: never in a URL, a page or a log. Every POST carries the
session's CSRF token in a hidden field, compared in constant time."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp_session import Session, get_session, new_session

from shared.logging import get_logger

log = get_logger(__name__)

KEY = "api_key"
CSRF = "csrf"
LANGUAGE = "language"
CSRF_FIELD = "csrf"

# Scripts and styles come from the console's own /static only: no inline script,
# no inline style (charts use SVG presentation attributes), no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def csrf_token(request: web.Request) -> str:
    """The session's CSRF token, made on first use."""
    session = await get_session(request)
    if CSRF not in session:
        session[CSRF] = secrets.token_urlsafe(32)
    return str(session[CSRF])


async def signed_in_key(request: web.Request) -> str | None:
    session = await get_session(request)
    key = session.get(KEY)
    return str(key) if key else None


async def sign_in(request: web.Request, api_key: str) -> None:
    """A new session (a new CSRF token too), keeping the chosen language."""
    old = await get_session(request)
    lang = old.get(LANGUAGE)
    session: Session = await new_session(request)
    session[KEY] = api_key
    session[CSRF] = secrets.token_urlsafe(32)
    if lang:
        session[LANGUAGE] = lang


async def sign_out(request: web.Request) -> None:
    session = await get_session(request)
    lang = session.get(LANGUAGE)
    session.invalidate()
    if lang:
        fresh = await new_session(request)
        fresh[LANGUAGE] = lang


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@web.middleware
async def csrf_check(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every state-changing request must carry the session's token."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        form = await request.post()
        sent = form.get(CSRF_FIELD)
        session = await get_session(request)
        expected = session.get(CSRF)
        if not (
            isinstance(sent, str)
            and expected
            and hmac.compare_digest(sent.encode(), str(expected).encode())
        ):
            log.info("console.csrf_refused", path=request.path)
            raise web.HTTPForbidden(text="The form has expired or did not come from this console.")
    return await handler(request)
