"""The console's own guards, through its real HTTP server (no service behind it is
needed for these): CSRF on every POST, security headers, the session cookie's
flags, the language from Accept-Language, nothing but the sign-in page unsigned."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet

from services.console.bootstrap import create_app
from services.console.settings import ConsoleSettings

Client = TestClient[Any, Any]


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Client]:
    # Services on a closed port: these pages must not need them.
    dead = "http://127.0.0.1:9"
    settings = ConsoleSettings(
        session_key=Fernet.generate_key().decode(),
        registration_url=dead,
        matching_url=dead,
        notification_url=dead,
    )
    async with TestClient(TestServer(create_app(settings))) as c:
        yield c


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def test_a_post_without_the_sessions_csrf_token_is_refused(client: Client) -> None:
    page = await client.get("/sign-in")
    token = _csrf(await page.text())
    for data in ({"api_key": "k"}, {"api_key": "k", "csrf": "forged"}):
        resp = await client.post("/sign-in", data=data, allow_redirects=False)
        assert resp.status == 403
    resp = await client.post(
        "/language",
        data={"language": "zh", "csrf": token, "next": "/sign-in"},
        allow_redirects=False,
    )
    assert resp.status == 302 and resp.headers["Location"] == "/sign-in"


async def test_pages_carry_a_csp_and_the_cookie_is_httponly_strict(client: Client) -> None:
    resp = await client.get("/sign-in")
    csp = resp.headers["Content-Security-Policy"]
    assert (
        "default-src 'self'" in csp and "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    )
    assert resp.headers["X-Frame-Options"] == "DENY"
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


async def test_the_language_follows_accept_language_then_the_viewers_choice(
    client: Client,
) -> None:
    resp = await client.get("/sign-in", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    html = await resp.text()
    assert '<html lang="zh-Hans">' in html and "<h1>登录</h1>" in html
    token = _csrf(html)
    await client.post("/language", data={"language": "en", "csrf": token, "next": "//evil.example"})
    resp = await client.get("/sign-in", headers={"Accept-Language": "zh-CN"})
    assert "<h1>Sign in</h1>" in await resp.text()


async def test_an_open_redirect_is_not_followed(client: Client) -> None:
    token = _csrf(await (await client.get("/sign-in")).text())
    resp = await client.post(
        "/language",
        data={"language": "en", "csrf": token, "next": "//evil.example/x"},
        allow_redirects=False,
    )
    assert resp.headers["Location"] == "/"


async def test_pages_need_a_sign_in_and_an_empty_key_is_a_message(client: Client) -> None:
    resp = await client.get("/roadshows", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == "/sign-in"
    token = _csrf(await (await client.get("/sign-in")).text())
    resp = await client.post("/sign-in", data={"api_key": "  ", "csrf": token})
    assert resp.status == 422 and "Enter your partner API key." in await resp.text()


async def test_unreachable_services_are_a_page_not_a_500(client: Client) -> None:
    token = _csrf(await (await client.get("/sign-in")).text())
    resp = await client.post("/sign-in", data={"api_key": "some-key", "csrf": token})
    assert resp.status == 503 and "A service is not reachable" in await resp.text()
    ready = await client.get("/readyz")
    assert ready.status == 503
