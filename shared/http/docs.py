"""/docs: Swagger UI over the service's own /openapi.json, its files served by
the service from the pinned `swagger-ui-py` package (no CDN: the page works on a
network that reaches nothing but the service)."""

from __future__ import annotations

import html
import importlib.util
import mimetypes
from functools import cache
from pathlib import Path

from aiohttp import web

from shared.errors import NotFound

ASSETS_PATH = "/docs/assets"
# The files the page loads; nothing else of the package is served.
ASSETS = (
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
    "docs-init.js",
)

# Our start-up script, served as a file like the others (no inline script).
_INIT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    filter: true,
    tryItOutEnabled: false,
    validatorUrl: null,  // the badge would ask validator.swagger.io
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  });
});
"""


@cache
def static_folder() -> Path:
    # Found without importing the package (its __init__ pulls in jinja2 and yaml).
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def page(title: str) -> str:
    t = html.escape(title)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{t} API</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="{ASSETS_PATH}/swagger-ui.css">'
        f'<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon-32x32.png">'
        "</head><body>"
        f'<noscript><h1>{t}</h1><p>The machine-readable reference: <a href="/openapi.json">'
        "/openapi.json</a>.</p></noscript>"
        '<div id="swagger-ui"></div>'
        f'<script src="{ASSETS_PATH}/swagger-ui-bundle.js"></script>'
        f'<script src="{ASSETS_PATH}/swagger-ui-standalone-preset.js"></script>'
        f'<script src="{ASSETS_PATH}/docs-init.js"></script>'
        "</body></html>"
    )


def asset(name: str) -> web.StreamResponse:
    """One of the page's files (raises NotFound for anything else)."""
    if name not in ASSETS:
        raise NotFound("no such file", field="name")
    headers = {"Cache-Control": "public, max-age=86400"}
    if name == "docs-init.js":
        return web.Response(text=_INIT, content_type="text/javascript", headers=headers)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return web.FileResponse(
        static_folder() / name, headers={**headers, "Content-Type": content_type}
    )
