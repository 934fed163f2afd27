"""A consumer process for crash tests: each handled event appends a row to
`effects` (no unique key, so a doubled effect shows). With CRASH_AFTER=n it
SIGKILLs itself right after the n-th effect committed, before the offset commit.

python -m tests.helpers.effect_consumer DSN BOOTSTRAP TOPIC GROUP CRASH_AFTER LOG_FILE
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from shared.consumer import IdempotentConsumer
from shared.envelope import Envelope
from shared.event_handlers import EventHandlers
from shared.logging import configure_logging
from shared.unit_of_work import UnitOfWork

handlers = EventHandlers()


@handlers.on("partner.registered")
async def record_effect(uow: UnitOfWork, envelope: Envelope, _data: object) -> None:
    await uow.conn.execute("INSERT INTO effects (event_id) VALUES ($1)", envelope.id)


async def main() -> None:
    dsn, bootstrap, topic, group, crash_after, log_file = sys.argv[1:7]
    configure_logging("effect-consumer", log_file=log_file)
    handled = 0

    def after_commit(_: Envelope) -> None:
        nonlocal handled
        handled += 1
        if handled == int(crash_after):
            os.kill(os.getpid(), signal.SIGKILL)

    consumer = IdempotentConsumer(
        name=group,
        topics=[topic],
        handlers=handlers,
        dsn=dsn,
        producer="effect-consumer",
        emits_to=f"{topic}.effects",
        bootstrap_servers=bootstrap,
        max_attempts=2,
        retry_base_seconds=0.01,
        session_timeout_ms=3_000,
        after_commit=after_commit,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await consumer.run(stop)


if __name__ == "__main__":
    asyncio.run(main())
