"""A local webhook receiver for the demo: it verifies every delivery's Standard
Webhooks signature with the subscriber's secret and records when it arrived."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    subscription: str
    body: dict[str, Any]
    verified: bool
    at: float


@dataclass
class WebhookReceiver:
    """POST /hooks/{subscription}; secrets are registered per subscription path."""

    secrets: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    url: str = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> WebhookReceiver:
        """Listen on `port` (0: any free one). A stopped receiver starts again on its
        old port and keeps what it received (the fault suite takes it down and up)."""
        app = web.Application()
        app.router.add_post("/hooks/{subscription}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{host}:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["subscription"]
        raw = await request.read()
        secret = self.secrets.get(name)
        verified = False
        if secret is not None:
            try:
                Webhook(secret).verify(raw, dict(request.headers))
                verified = True
            except WebhookVerificationError:
                verified = False
        self.received.append(
            Received(
                request.headers.get("webhook-id", ""),
                name,
                json.loads(raw or b"{}"),
                verified,
                time.time(),
            )
        )
        return web.Response(status=204 if verified else 401)

    def unique(self) -> dict[str, Received]:
        """Deliveries by webhook-id: a retry repeats the id, so this is what counts."""
        return {r.webhook_id: r for r in self.received if r.verified}
