"""The delivery worker: claims due notifications, sends each as a signed webhook
or, on the e-mail channel, as a message over SMTP, and records how the attempt
ended. Several workers can run against one database; claims are leases, so a
worker that dies mid-delivery only delays its notifications until the lease
runs out."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import aiohttp
import asyncpg
import structlog
from aiohttp.abc import AbstractResolver
from prometheus_client import Counter, Histogram

from services.notification import domain, ssrf
from services.notification.email_compose import Unsendable, build_message
from services.notification.email_service import EmailDelivery
from services.notification.email_smtp import Mailer
from services.notification.service import Delivery, Notifications
from services.notification.settings import NotificationSettings
from services.notification.signing import webhook_headers
from shared.db import create_pool
from shared.logging import get_logger

log = get_logger(__name__)

USER_AGENT = "Roadshow-Webhooks/1.0"

ATTEMPTS = Counter(
    "roadshow_webhook_attempts_total", "Webhook delivery attempts, by outcome", ["outcome"]
)
ATTEMPT_SECONDS = Histogram("roadshow_webhook_attempt_seconds", "Webhook attempt latency")
EMAIL_ATTEMPTS = Counter(
    "roadshow_email_attempts_total",
    "E-mail delivery attempts, by kind and outcome",
    ["kind", "outcome"],
)


class DeliveryWorker:
    def __init__(
        self,
        settings: NotificationSettings,
        service: Notifications,
        *,
        resolver: AbstractResolver | None = None,
        pool: asyncpg.Pool | None = None,
    ) -> None:
        self._settings = settings
        self._service = service
        self._resolver = resolver
        self._given_pool = pool
        self._pool: asyncpg.Pool | None = pool
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._mailer = Mailer(settings)
        self._emails_in_flight = 0
        self._wake = asyncio.Event()
        self.last_round = time.monotonic()

    def healthy(self, max_silence: float = 30.0) -> bool:
        return self._session is not None and time.monotonic() - self.last_round < max_silence

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[DeliveryWorker]:
        """The worker's database pool and HTTP client, for `run` or for driving
        it round by round (`deliver_due`)."""
        s = self._settings
        if self._pool is None:
            self._pool = await create_pool(s.database_url.get_secret_value(), s.db_pool_max)
        self._session = aiohttp.ClientSession(
            connector=ssrf.make_connector(
                s.allow_private_endpoints, self._resolver, limit=s.worker_concurrency
            ),
            timeout=aiohttp.ClientTimeout(
                total=s.request_timeout_seconds, connect=s.connect_timeout_seconds
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        )
        try:
            yield self
        finally:
            await self.drain()
            await self._session.close()
            self._session = None
            if self._given_pool is None:
                await self._pool.close()
                self._pool = None

    async def run(self, stop: asyncio.Event) -> None:
        async with self.opened():
            listener = await self._listen()
            log.info("delivery.started")
            try:
                while not stop.is_set():
                    self.last_round = time.monotonic()
                    try:
                        claimed = await self.run_once()
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                        # The database is away for a moment; the next round retries.
                        log.warning("delivery.claim_failed", error=type(exc).__name__)
                        claimed = 0
                    if claimed and len(self._tasks) < self._settings.worker_concurrency:
                        continue  # more may be due right now
                    await self._sleep(stop)
            finally:
                if listener is not None:
                    with contextlib.suppress(Exception):
                        await listener.close(timeout=5)

    async def _listen(self) -> asyncpg.Connection | None:
        # NOTIFY wakes the worker as soon as notifications commit; the poll
        # interval is the fallback and the clock for scheduled retries.
        try:
            conn = await asyncpg.connect(self._settings.database_url.get_secret_value())
            await conn.add_listener("notifications", lambda *_: self._wake.set())
            return conn
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("delivery.listen_failed", error=type(exc).__name__)
            return None

    async def _sleep(self, stop: asyncio.Event) -> None:
        self._wake.clear()
        waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
        try:
            await asyncio.wait(
                waiters,
                timeout=self._settings.worker_poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for w in waiters:
                w.cancel()

    async def run_once(self) -> int:
        """Claim what is due (within this worker's free capacity) and start
        sending it; returns how many attempts started."""
        assert self._pool is not None and self._session is not None
        s = self._settings
        capacity = s.worker_concurrency - len(self._tasks)
        if capacity <= 0:
            return 0
        async with self._pool.acquire() as conn:
            deliveries = await self._service.claim(
                conn,
                capacity=capacity,
                per_endpoint=s.endpoint_concurrency,
                lease=s.delivery_lease_seconds,
                scan=s.worker_batch_size,
            )
        for delivery in deliveries:
            self._start(self._deliver(delivery))
        return len(deliveries) + await self._claim_emails()

    async def _claim_emails(self) -> int:
        """Due e-mails, within the worker's free capacity and its SMTP bound."""
        assert self._pool is not None
        s = self._settings
        emails = self._service.emails
        if not emails.enabled:
            return 0
        capacity = min(
            s.worker_concurrency - len(self._tasks), s.smtp_concurrency - self._emails_in_flight
        )
        if capacity <= 0:
            return 0
        async with self._pool.acquire() as conn:
            claimed = await emails.claim(conn, capacity=capacity, lease=s.delivery_lease_seconds)
        for email in claimed:
            self._emails_in_flight += 1
            self._start(self._deliver_email(email))
        return len(claimed)

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()  # capacity freed

    async def drain(self) -> None:
        """Wait for every attempt in flight to be sent and recorded."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def deliver_due(self) -> int:
        """One round: claim what is due, send it, record it."""
        started = await self.run_once()
        await self.drain()
        return started

    async def _deliver(self, delivery: Delivery) -> None:
        assert self._pool is not None
        with structlog.contextvars.bound_contextvars(
            correlation_id=delivery.correlation_id,
            notification_id=str(delivery.notification_id),
            subscription_id=str(delivery.subscription_id),
        ):
            try:
                attempt = await self._send(delivery)
                ATTEMPTS.labels(attempt.outcome).inc()
                if attempt.latency_ms is not None:
                    ATTEMPT_SECONDS.observe(attempt.latency_ms / 1000)
                async with self._pool.acquire() as conn:
                    decision = await self._service.record(conn, delivery, attempt)
            except Exception as exc:
                # The lease runs out and another round tries again; the attempt
                # stays in flight until then and is marked abandoned.
                log.error("delivery.record_failed", error=type(exc).__name__, detail=str(exc)[:300])
                return
            log.info(
                "delivery.attempted",
                attempt=delivery.number,
                outcome=attempt.outcome,
                status_code=attempt.status_code,
                ms=attempt.latency_ms,
                result=decision.status if decision else "lease_lost",
            )

    async def _deliver_email(self, email: EmailDelivery) -> None:
        assert self._pool is not None
        emails = self._service.emails
        # Ids only in the log context: the message names a person.
        with structlog.contextvars.bound_contextvars(
            correlation_id=email.correlation_id,
            notification_id=str(email.notification_id),
            recipient_id=str(email.recipient_id),
        ):
            try:
                now = emails.clock()
                try:
                    message = build_message(
                        email.content,
                        email.to,
                        emails.identity,
                        notification_id=email.notification_id,
                        unsubscribe_token=email.unsubscribe_token,
                        now=now,
                    )
                except Unsendable as exc:
                    attempt = domain.Attempt(domain.REJECTED, error=str(exc))
                else:
                    attempt = await self._mailer.send(
                        message, emails.identity.address, email.to.email
                    )
                EMAIL_ATTEMPTS.labels(email.content.kind, attempt.outcome).inc()
                async with self._pool.acquire() as conn:
                    decision = await emails.record(conn, email, attempt)
            except Exception as exc:
                # As for webhooks: the lease runs out and another round retries.
                # Only the class is logged: a message may quote an address.
                log.error("email.record_failed", error=type(exc).__name__)
                return
            finally:
                self._emails_in_flight -= 1
            log.info(
                "email.attempted",
                kind=email.content.kind,
                attempt=email.number,
                outcome=attempt.outcome,
                status_code=attempt.status_code,
                ms=attempt.latency_ms,
                result=decision.status if decision else "lease_lost",
            )

    async def _send(self, delivery: Delivery) -> domain.Attempt:
        assert self._session is not None
        now = self._service.clock()
        headers = webhook_headers(
            delivery.secrets, str(delivery.notification_id), int(now.timestamp()), delivery.body
        )
        headers |= {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        started = time.perf_counter()

        def elapsed() -> int:
            return round((time.perf_counter() - started) * 1000)

        try:
            ssrf.check_url(delivery.url, self._settings.allow_private_endpoints)
            async with self._session.post(
                delivery.url,
                data=delivery.body.encode(),
                headers=headers,
                allow_redirects=False,
            ) as resp:
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except ssrf.EndpointRefused as exc:
            return domain.Attempt(domain.REFUSED, latency_ms=elapsed(), error=exc.reason)
        except TimeoutError:
            return domain.Attempt(
                domain.TIMEOUT,
                latency_ms=elapsed(),
                error=f"no answer within {self._settings.request_timeout_seconds:g}s",
            )
        except aiohttp.ClientError as exc:
            return domain.Attempt(domain.FAILED, latency_ms=elapsed(), error=_describe(exc))
        outcome = domain.outcome_of_status(status)
        error = None
        if outcome != domain.OK:
            error = f"HTTP {status}"
            if 300 <= status < 400:
                error += ": redirects are not followed"
        return domain.Attempt(
            outcome,
            status_code=status,
            latency_ms=elapsed(),
            error=error,
            retry_after=domain.parse_retry_after(retry_after, now),
        )


def _describe(exc: aiohttp.ClientError) -> str:
    # The class and the library's message (host, port, OS error); never a body.
    return f"{type(exc).__name__}: {exc}"[:500]
