"""What a handler that said `NotYet` waits for: the next commit of another
consumer in the same process.

A handler raises `NotYet` when what it needs comes on another topic (notification
opens a person only with the key from the keys topic, which registration publishes
in the same transaction but which another consumer reads). A fixed backoff made
half the registrations of a quiet road show wait 200 ms for a key that had arrived
5 ms after the first try. Every consumer now says when a batch of its has committed
(`arrived`), and a waiting partition tries again at once (`wait_after`), with the
backoff as its deadline: a key read by another process, or one that never comes,
still ends each wait at the backoff.
"""

from __future__ import annotations

import asyncio
import contextlib


class Arrivals:
    """Wakes every waiter when anything commits; a waiter never waits past its `longest`."""

    def __init__(self) -> None:
        self._waiting: set[asyncio.Future[None]] = set()

    def arrived(self) -> None:
        waiting, self._waiting = self._waiting, set()
        for waiter in waiting:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_after(self, stop: asyncio.Event, floor: float, longest: float) -> None:
        """Return at the first arrival after `floor` seconds (an arrival during the
        floor counts: it is not missed), after `longest` seconds at the latest, or
        when `stop` is set.
        The floor spaces out the tries when arrivals are frequent but not the one
        awaited (a busy process, a key that never comes)."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.add(waiter)
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({stopped}, timeout=min(floor, longest))
            if not stop.is_set():
                await asyncio.wait(
                    {waiter, stopped},
                    timeout=max(longest - floor, 0.0),
                    return_when=asyncio.FIRST_COMPLETED,
                )
        finally:
            self._waiting.discard(waiter)
            stopped.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stopped


# One per process: the consumers of a service run in one event loop.
ARRIVALS = Arrivals()
