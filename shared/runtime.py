"""Running a service process: its HTTP API and background loops (outbox relay,
consumers) until SIGTERM/SIGINT, then a clean stop."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import uvloop
from aiohttp import web

from shared.logging import get_logger
from shared.settings import EventLoop

log = get_logger(__name__)

Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


# The young generation is collected every 700 allocations, and each collection
# walks every object still young. A rescoring builds tens of thousands of
# long-lived objects (matches, their components, their rows and events), so with
# the default most of its CPU went to collections that found nothing: one
# registration publishing 15,793 matches took 4.8 s of CPU, and 2.9 s with this
# (bench/scoring.py). Cycles are rare here, so their memory stays bounded.
YOUNG_GC_THRESHOLD = 50_000


def tune_gc() -> None:
    """The service process's collector: young collections far less often."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, old)


def run_in_loop(main: Coroutine[Any, Any, None], kind: EventLoop = "uvloop") -> None:
    """Run a service process's main coroutine to its end. uvloop by default: the
    services spend much of their CPU in the loop itself (sockets, callbacks,
    timers): under libuv the three services of the pipeline bench used 10% less
    CPU for the same 800 registrations (25.5 s against 28.3 s, two runs each)."""
    if kind == "uvloop":
        uvloop.run(main)
    else:
        asyncio.run(main)


@dataclass(frozen=True)
class Background:
    """A loop the service runs, and how readiness asks whether it is healthy."""

    name: str
    run: Loop
    healthy: Callable[[], bool]


async def run_until_stopped(
    *, app: web.Application | None, host: str, port: int, loops: list[Loop]
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner: web.AppRunner | None = None
    if app is not None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info(
            "service.listening", url=f"http://{host}:{port}", docs=f"http://{host}:{port}/docs"
        )
    tasks = [
        asyncio.create_task(fn(stop), name=getattr(fn, "__qualname__", "loop")) for fn in loops
    ]
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({stopper, *tasks}, return_when=asyncio.FIRST_COMPLETED)
        for task in done - {stopper}:
            # A background loop only returns on stop; anything else is fatal, so
            # the supervisor (compose, Kubernetes, `make up`) restarts the process.
            if task.exception() is not None:
                log.error(
                    "service.loop_crashed", loop=task.get_name(), error=repr(task.exception())
                )
                raise SystemExit(1)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()
        log.info("service.stopped")
