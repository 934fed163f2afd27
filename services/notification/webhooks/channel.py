"""The webhook channel as the delivery worker drives it: claim due
notifications within every endpoint's concurrency, send each as a signed POST,
record how the attempt ended (a 410 also disables the subscription)."""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from aiohttp.abc import AbstractResolver
from prometheus_client import Counter, Histogram

from services.notification.outbound import repository as outbound
from services.notification.outbound.policy import (
    Attempt,
    Clock,
    Decision,
    RetryPolicy,
    outcome_of_status,
    parse_retry_after,
    pick_within_limits,
)
from services.notification.settings import NotificationSettings
from services.notification.webhooks import repository as repo
from services.notification.webhooks import ssrf
from services.notification.webhooks.model import Ended
from services.notification.webhooks.service import emit_outcome, kill_pending
from services.notification.webhooks.signing import webhook_headers
from shared.envelope import Context
from shared.unit_of_work import UnitOfWork

USER_AGENT = "Roadshow-Webhooks/1.0"

ATTEMPTS = Counter(
    "roadshow_webhook_attempts_total", "Webhook delivery attempts, by outcome", ["outcome"]
)
ATTEMPT_SECONDS = Histogram("roadshow_webhook_attempt_seconds", "Webhook attempt latency")


@dataclass(frozen=True)
class Delivery:
    """One claimed attempt: what to send where, and the lease it runs under."""

    notification_id: uuid.UUID
    number: int  # of this attempt among all of the notification's attempts
    tries: int  # of this attempt in the current schedule
    token: uuid.UUID
    subscription_id: uuid.UUID
    partner_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    correlation_id: str
    url: str
    body: str
    secrets: tuple[str, ...]

    @property
    def context(self) -> Context:
        return self.ended.context

    @property
    def ended(self) -> Ended:
        return Ended(
            self.notification_id,
            self.subscription_id,
            self.partner_id,
            self.event_id,
            self.event_type,
            self.correlation_id,
            self.number,
        )


class WebhookChannel:
    log_as = "delivery"
    quote_errors = True

    def __init__(
        self,
        settings: NotificationSettings,
        *,
        clock: Clock,
        resolver: AbstractResolver | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._s = settings
        self.limit = settings.worker_concurrency
        self.policy = RetryPolicy(
            schedule=settings.retry_schedule,
            jitter=settings.retry_jitter,
            retry_after_cap=settings.retry_after_cap_seconds,
        )
        self._clock = clock
        self._resolver = resolver
        self._rand = rand
        self._session: aiohttp.ClientSession | None = None

    @contextlib.asynccontextmanager
    async def opened(self) -> AsyncIterator[None]:
        s = self._s
        self._session = aiohttp.ClientSession(
            # One session for the worker's life: keep-alive connections are
            # reused; waiting for one counts in the request's total timeout.
            connector=ssrf.make_connector(
                s.allow_private_endpoints,
                self._resolver,
                limit=s.worker_concurrency,
                limit_per_host=s.host_concurrency,
            ),
            timeout=aiohttp.ClientTimeout(
                total=s.request_timeout_seconds, connect=s.connect_timeout_seconds
            ),
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            trust_env=False,
        )
        try:
            yield
        finally:
            await self._session.close()
            self._session = None

    async def claim(self, uow: UnitOfWork, capacity: int) -> list[Delivery]:
        """Claim up to `capacity` due notifications for one attempt each, keeping
        every subscription within `endpoint_concurrency` requests in flight across
        all workers. The claim is a lease: a worker that dies mid-delivery loses
        it after `delivery_lease_seconds` and another worker tries again."""
        s, conn = self._s, uow.conn
        now = self._clock()
        token = uuid.uuid4()
        candidates = await repo.due_candidates(
            conn, now, s.endpoint_concurrency, s.worker_batch_size
        )
        if not candidates:
            return []
        usable = await repo.lock_subscriptions(conn, sorted({sub for _, sub in candidates}))
        busy = await repo.in_flight(conn, usable, now)
        chosen = pick_within_limits(
            [c for c in candidates if c[1] in set(usable)],
            busy,
            s.endpoint_concurrency,
            capacity,
        )
        if not chosen:
            return []
        leased = await outbound.lease(
            conn, chosen, token, now + timedelta(seconds=s.delivery_lease_seconds), now
        )
        targets = await repo.endpoints(
            conn, [n.subscription_id for n in leased if n.subscription_id], now
        )
        out = []
        for n in leased:
            assert n.subscription_id is not None and n.partner_id is not None
            target = targets[n.subscription_id]
            out.append(
                Delivery(
                    notification_id=n.id,
                    number=n.number,
                    tries=n.tries,
                    token=token,
                    subscription_id=n.subscription_id,
                    partner_id=n.partner_id,
                    event_id=n.event_id,
                    event_type=n.event_type,
                    correlation_id=n.correlation_id,
                    url=target.url,
                    body=n.body,
                    secrets=target.secrets,
                )
            )
        return out

    async def record(
        self, uow: UnitOfWork, ended: Sequence[tuple[Delivery, Attempt]]
    ) -> list[Decision | None]:
        """Store how a run of attempts ended and what happens next to each:
        delivered, retried later, or dead; a 410 also disables the subscription.
        None for an attempt whose lease had expired (another worker owns the
        notification now)."""
        now = self._clock()
        decisions = await outbound.conclude(uow.conn, ended, self.policy, now, self._rand)
        for (job, attempt), decision in zip(ended, decisions, strict=True):
            if decision is None:
                continue
            emit_outcome(uow, job.ended, decision.event, now)
            if attempt.outcome == "gone":
                await repo.set_disabled(
                    uow.conn, job.subscription_id, "the endpoint answered 410 Gone", now
                )
                await kill_pending(uow, job.subscription_id, "the subscription was disabled", now)
        return decisions

    def log_fields(self, job: Delivery) -> dict[str, str]:
        return {
            "notification_id": str(job.notification_id),
            "subscription_id": str(job.subscription_id),
        }

    def attempt_fields(self, job: Delivery) -> dict[str, str]:
        return {}

    async def send(self, job: Delivery) -> Attempt:
        attempt = await self._post(job)
        ATTEMPTS.labels(attempt.outcome).inc()
        if attempt.latency_ms is not None:
            ATTEMPT_SECONDS.observe(attempt.latency_ms / 1000)
        return attempt

    async def _post(self, job: Delivery) -> Attempt:
        assert self._session is not None
        now = self._clock()
        headers = webhook_headers(
            job.secrets, str(job.notification_id), int(now.timestamp()), job.body
        )
        headers |= {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            # The flow's id, so a receiver's logs and ours meet (not part of the signature).
            "X-Correlation-ID": job.correlation_id,
        }
        started = time.perf_counter()

        def elapsed() -> int:
            return round((time.perf_counter() - started) * 1000)

        try:
            ssrf.check_url(job.url, self._s.allow_private_endpoints)
            async with self._session.post(
                job.url, data=job.body.encode(), headers=headers, allow_redirects=False
            ) as resp:
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except ssrf.EndpointRefused as exc:
            return Attempt("refused", latency_ms=elapsed(), error=exc.reason)
        except TimeoutError:
            return Attempt(
                "timeout",
                latency_ms=elapsed(),
                error=f"no answer within {self._s.request_timeout_seconds:g}s",
            )
        except aiohttp.ClientError as exc:
            return Attempt("failed", latency_ms=elapsed(), error=_describe(exc))
        outcome = outcome_of_status(status)
        error = None
        if outcome != "delivered":
            error = f"HTTP {status}"
            if 300 <= status < 400:
                error += ": redirects are not followed"
        return Attempt(
            outcome,
            status_code=status,
            latency_ms=elapsed(),
            error=error,
            retry_after=parse_retry_after(retry_after, now),
        )


def _describe(exc: aiohttp.ClientError) -> str:
    # The class and the library's message (host, port, OS error); never a body.
    return f"{type(exc).__name__}: {exc}"[:500]
