"""A consumer process for crash tests: each handled event appends a row to
`effects` (no unique key, so a doubled effect shows). With CRASH_AFTER=n it
SIGKILLs itself at the n-th effect: WHEN=after-commit (default) right after the
batch holding it committed, before the offset commit; WHEN=in-batch while handling
it, inside the batch's open transaction. With RUN > 0 every event weighs 1 and a
poll goes in runs of RUN events, a transaction each (so after-commit dies between
two runs of one poll).

python -m tests.helpers.effect_consumer DSN BOOTSTRAP TOPIC GROUP CRASH_AFTER LOG_FILE [WHEN] [RUN]
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
_crash_in_batch_at = 0
_effects_seen = 0


@handlers.on("partner.registered")
async def record_effect(uow: UnitOfWork, envelope: Envelope, _data: object) -> None:
    global _effects_seen
    await uow.conn.execute("INSERT INTO effects (event_id) VALUES ($1)", envelope.id)
    _effects_seen += 1
    if _effects_seen == _crash_in_batch_at:
        os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    global _crash_in_batch_at
    dsn, bootstrap, topic, group, crash_after, log_file = sys.argv[1:7]
    when = sys.argv[7] if len(sys.argv) > 7 else "after-commit"
    run = int(sys.argv[8]) if len(sys.argv) > 8 else 0
    configure_logging("effect-consumer", log_file=log_file)
    handled = 0
    if when == "in-batch":
        _crash_in_batch_at = int(crash_after)

    def after_commit(_: Envelope) -> None:
        nonlocal handled
        handled += 1
        if when == "after-commit" and handled == int(crash_after):
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
        weigh=(lambda _e, _d: 1) if run else None,
        max_weight=run,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await consumer.run(stop)


if __name__ == "__main__":
    asyncio.run(main())
