"""A lean verifying webhook receiver for benchmarks. Like demo/receiver.py it
checks every delivery's Standard Webhooks signature with the subscriber's secret
(the `standardwebhooks` package), but it keeps only the few fields a benchmark
counts, so hundreds of thousands of deliveries fit in memory."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True, slots=True)
class Hook:
    webhook_id: str
    bank: str  # the subscription path: the bank's participant id
    type: str
    enterprise_id: str
    match_id: str  # "" for meeting events
    version: int
    verified: bool
    at: float  # time.time() when the request arrived

    @property
    def key(self) -> tuple[str, str, int]:
        """What one event is, to one bank: the same key twice is the event doubled."""
        return self.bank, self.match_id, self.version


@dataclass
class Receiver:
    """POST /hooks/{bank}; a bank's secret is registered before its subscription is used."""

    secrets: dict[str, Webhook] = field(default_factory=dict)
    hooks: list[Hook] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    def add_secret(self, bank: str, secret: str) -> None:
        self.secrets[bank] = Webhook(secret)

    async def start(self, host: str = "127.0.0.1") -> Receiver:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/hooks/{bank}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, 0, backlog=1024).start()
        self.url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        at = time.time()
        bank = request.match_info["bank"]
        raw = await request.read()
        verified = self._verify(bank, raw, request)
        self.hooks.append(_hook(request.headers.get("webhook-id", ""), bank, raw, verified, at))
        return web.Response(status=204 if verified else 401)

    def _verify(self, bank: str, raw: bytes, request: web.Request) -> bool:
        wh = self.secrets.get(bank)
        if wh is None:
            return False
        try:
            wh.verify(raw, dict(request.headers))
        except WebhookVerificationError:
            return False
        return True


def _hook(webhook_id: str, bank: str, raw: bytes, verified: bool, at: float) -> Hook:
    try:
        body: dict[str, Any] = json.loads(raw)
        data = body.get("data") or {}
        thing = data.get("match") or data.get("meeting") or {}
        return Hook(
            webhook_id,
            bank,
            str(body.get("type", "")),
            str((data.get("enterprise") or {}).get("id", "")),
            str(thing.get("match_id", "")) if "match" in data else "",
            int(thing.get("version", 0)),
            verified,
            at,
        )
    except (ValueError, AttributeError, TypeError):
        return Hook(webhook_id, bank, "", "", "", 0, verified, at)


@dataclass(frozen=True)
class Tally:
    delivered: int  # requests received
    verified: int  # of those, with a valid signature
    duplicated: int  # deliveries repeating a webhook-id already received
    doubled: int  # distinct webhook-ids for an event a bank already had


def tally(hooks: list[Hook]) -> Tally:
    ids: set[str] = set()
    keys: dict[tuple[str, str, int], str] = {}
    duplicated = doubled = 0
    for h in hooks:
        if h.webhook_id in ids:
            duplicated += 1
            continue
        ids.add(h.webhook_id)
        if h.match_id and keys.setdefault(h.key, h.webhook_id) != h.webhook_id:
            doubled += 1
    return Tally(len(hooks), sum(h.verified for h in hooks), duplicated, doubled)
