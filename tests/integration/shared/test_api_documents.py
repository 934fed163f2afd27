"""/docs and /openapi.json as a reader gets them: Swagger UI served by the service
itself from its pinned package, and rendering the service's operations in a real
headless Chromium that can reach nothing but the service (no CDN)."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from collections.abc import AsyncIterator

import pytest_asyncio
from aiohttp import ClientSession, web

from services.matching.http.routes import api as matching_api
from shared.http.app import create_base_app, served_document
from shared.testing.suite import free_port_run


@pytest_asyncio.fixture
async def base_url() -> AsyncIterator[str]:
    """Matching's routes on a real port (the documents need no database)."""
    runner = web.AppRunner(create_base_app(matching_api, max_body_bytes=1024))
    await runner.setup()
    port = free_port_run(1)
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_the_page_and_every_file_it_loads_are_served(base_url: str) -> None:
    async with ClientSession() as http:
        async with http.get(f"{base_url}/docs") as resp:
            assert resp.status == 200 and resp.content_type == "text/html"
            page = await resp.text()
        files = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', page)
        assert {f.rsplit("/", 1)[-1] for f in files} >= {
            "swagger-ui-bundle.js",
            "swagger-ui-standalone-preset.js",
            "swagger-ui.css",
        }
        assert "//" not in "".join(re.findall(r'(?:src|href)="([^"]+)"', page))  # no other host
        for path in files:
            async with http.get(base_url + path) as resp:
                assert resp.status == 200, path
                assert resp.content_type in {"text/javascript", "text/css", "image/png"}, path
                assert len(await resp.read()) > 100, path
        async with http.get(f"{base_url}/docs/assets/..%2F__init__.py") as resp:
            assert resp.status == 404  # only the page's own files
        async with http.get(f"{base_url}/openapi.json") as resp:
            assert await resp.json() == served_document(matching_api)


async def test_swagger_ui_renders_the_operations_without_the_internet(base_url: str) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is required (Debian package 'chromium'; `make test` installs it)"
    with tempfile.TemporaryDirectory() as tmp:
        browser = await asyncio.create_subprocess_exec(
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            # Every host but the service's is unreachable: a CDN file would not load.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--virtual-time-budget=15000",
            f"--user-data-dir={tmp}/profile",
            "--dump-dom",
            f"{base_url}/docs",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(browser.communicate(), 90)
    assert browser.returncode == 0, err.decode()[-2000:]
    dom = out.decode()
    # Swagger UI built these from /openapi.json: the tags and each operation's path.
    assert "/v1/roadshows/{roadshow_id}/schedule-jobs" in dom or (
        "/v1/roadshows/\u200b{roadshow_id}\u200b/schedule-jobs" in dom
    )
    assert 'class="opblock-tag' in dom
