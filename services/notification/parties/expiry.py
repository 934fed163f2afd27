"""The hold's housekeeping, a background loop: how many matching events wait
for their parties (a gauge), and forgetting those that waited longer than
`held_event_max_age` — a party whose registration never comes (withdrawn before
it reached us, a partner's key revoked) must not leave the hold growing for ever."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta

import asyncpg
from prometheus_client import Counter, Gauge

from services.notification.outbound.policy import Clock
from services.notification.parties import repository as repo
from shared.failures import backoff_seconds
from shared.logging import get_logger

log = get_logger(__name__)

HELD_EVENTS = Gauge(
    "roadshow_notification_held_events",
    "Matching events held until both their parties are known",
)
HELD_EXPIRED = Counter(
    "roadshow_notification_held_expired_total",
    "Held matching events forgotten after waiting held_event_max_age for their parties",
)


class HeldEventExpiry:
    def __init__(self, *, dsn: str, max_age: float, interval: float, clock: Clock) -> None:
        self._dsn = dsn
        self._max_age = timedelta(seconds=max_age)
        self._interval = interval
        self._clock = clock
        self.last_pass = time.monotonic()

    def healthy(self) -> bool:
        return time.monotonic() - self.last_pass < max(3 * self._interval, 30.0)

    async def expire(self, conn: asyncpg.Connection) -> int:
        """One pass: forget what waited too long, count what is left; returns
        how many were forgotten."""
        async with conn.transaction():
            expired = await repo.expire_held(conn, self._clock() - self._max_age)
            held = await repo.count_held(conn)
        HELD_EVENTS.set(held)
        if expired:
            HELD_EXPIRED.inc(len(expired))
            log.warning(
                "notification.held_expired",
                events=len(expired),
                event_ids=[str(e) for e in expired[:20]],
            )
        return len(expired)

    async def run(self, stop: asyncio.Event) -> None:
        """A pass every `interval`, on a connection of its own each time (so a
        dropped one is simply opened again); any failure is logged and retried
        after a backoff."""
        failures = 0
        while not stop.is_set():
            try:
                conn = await asyncpg.connect(self._dsn)
                try:
                    await self.expire(conn)
                finally:
                    await conn.close()
                failures, wait = 0, self._interval
                self.last_pass = time.monotonic()
            except Exception as exc:
                failures += 1
                wait = backoff_seconds(failures, 1.0, cap=self._interval)
                log.warning("held_expiry.failed", error=type(exc).__name__, retry_in=wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
