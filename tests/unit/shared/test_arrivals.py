"""A wait after NotYet ends at the next commit, never before its floor nor past its longest."""

from __future__ import annotations

import asyncio

from shared.arrivals import Arrivals

LONG = 120.0  # a wait that only an arrival (or stop) can end within the test's deadline


async def test_a_waiter_wakes_at_the_next_arrival() -> None:
    arrivals = Arrivals()
    waiting = asyncio.create_task(arrivals.wait_after(asyncio.Event(), 0.0, LONG))
    await asyncio.sleep(0)  # let it register
    assert not waiting.done()
    arrivals.arrived()
    await asyncio.wait_for(waiting, 10)


async def test_an_arrival_during_the_floor_is_not_missed() -> None:
    arrivals = Arrivals()
    waiting = asyncio.create_task(arrivals.wait_after(asyncio.Event(), 0.05, LONG))
    await asyncio.sleep(0)
    arrivals.arrived()  # before the floor has passed
    assert not waiting.done()
    await asyncio.wait_for(waiting, 10)


async def test_stop_ends_the_wait_and_longest_bounds_it() -> None:
    arrivals, stop = Arrivals(), asyncio.Event()
    waiting = asyncio.create_task(arrivals.wait_after(stop, LONG, LONG))
    await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(waiting, 10)
    # Nothing arrives: `longest` ends it.
    await asyncio.wait_for(arrivals.wait_after(asyncio.Event(), 0.0, 0.01), 10)
    assert arrivals._waiting == set()  # no waiter left behind
