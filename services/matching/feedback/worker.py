"""The follow-up loop: every `follow_up_check_seconds` it opens the follow-ups
that fell due by the service's clock (`AfterMeetings.open_due`: a row and a
`follow-up.due` event per meeting, in one unit of work, so a crash either did
both or neither, and a second loop or a restart never opens one twice).

It survives any exception in one pass: the failure is logged, waited out with
backoff, and after three in a row the loop starts over with a new pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from prometheus_client import Counter

from services.matching.feedback.service import AfterMeetings, follow_up_context
from shared.db import create_pool
from shared.failures import backoff_seconds
from shared.logging import get_logger
from shared.unit_of_work import UnitsOfWork

log = get_logger(__name__)

FOLLOW_UPS_OPENED = Counter(
    "roadshow_matching_follow_ups_opened_total",
    "Meetings whose follow-up fell due and was opened (follow-up.due emitted)",
)
FOLLOW_UP_FAILURES = Counter(
    "roadshow_matching_follow_up_pass_failures_total", "Passes of the follow-up loop that failed"
)

_RECONNECT_AFTER = 3
# Follow-ups opened per unit of work; a backlog is worked off batch after batch.
_BATCH = 500


class FollowUpLoop:
    def __init__(
        self,
        *,
        dsn: str,
        producer: str,
        topic: str,
        after: AfterMeetings,
        interval: float,
        backoff_base_seconds: float = 0.5,
    ) -> None:
        self._dsn = dsn
        self._producer = producer
        self._topic = topic
        self._after = after
        self._interval = interval
        self._backoff_base = backoff_base_seconds
        self.last_pass = time.monotonic()
        self.opened = 0

    def healthy(self) -> bool:
        return time.monotonic() - self.last_pass < max(3 * self._interval, 30.0)

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            try:
                await self._run_connected(stop)
            except Exception as exc:
                failures += 1
                wait = backoff_seconds(failures, self._backoff_base, cap=self._interval)
                log.warning(
                    "matching.follow_up_loop_reconnecting",
                    error=type(exc).__name__,
                    detail=str(exc)[:500],
                    failures=failures,
                    retry_in=wait,
                )
                await _wait(stop, wait)

    async def _run_connected(self, stop: asyncio.Event) -> None:
        pool = await create_pool(self._dsn, 1)
        units = UnitsOfWork(pool, self._producer, self._topic)
        failures = 0
        try:
            while not stop.is_set():
                try:
                    await self.run_once(units)
                    failures, wait = 0, self._interval
                    self.last_pass = time.monotonic()
                except Exception as exc:
                    failures += 1
                    FOLLOW_UP_FAILURES.inc()
                    wait = backoff_seconds(failures, self._backoff_base, cap=self._interval)
                    log.warning(
                        "matching.follow_up_pass_failed",
                        error=type(exc).__name__,
                        detail=str(exc)[:500],
                        failures=failures,
                        retry_in=wait,
                    )
                    if failures >= _RECONNECT_AFTER:
                        raise  # a fresh pool, should this one be beyond repair
                await _wait(stop, wait)
        finally:
            with contextlib.suppress(Exception):
                await pool.close()

    async def run_once(self, units: UnitsOfWork) -> int:
        """One pass: every follow-up due now, a batch per unit of work."""
        total = 0
        while True:
            async with units.begin(follow_up_context()) as uow:
                opened = await self._after.open_due(uow, limit=_BATCH)
            total += opened
            self.opened += opened
            FOLLOW_UPS_OPENED.inc(opened)
            if opened < _BATCH:
                return total


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
