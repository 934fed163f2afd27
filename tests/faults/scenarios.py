"""The fault scenarios, each on its own road show of the suite `make up` started:
registrations flow while a fault happens, then the outcome is compared with the
control road show (the same parties, no fault). Used by tests/faults/ (small
volumes) and bench/faults.py (larger ones, figures printed)."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from demo.generator import RoadshowData
from demo.receiver import WebhookReceiver
from shared.testing.suite import Suite
from tests.faults import harness as h


@dataclass
class Outcome:
    """What a scenario came to; `lost`, `doubled`, `dead_lettered`, `dead` must be 0."""

    scenario: str
    registrations: int
    matches_expected: int
    matches: int
    lost: int  # expected matches missing, plus expected webhooks never delivered
    doubled: int  # a match twice, or one event to a bank under two webhook ids
    unexpected: int  # matches the control does not have
    webhooks_expected: int
    webhooks_distinct: int  # distinct webhook-ids delivered (verified)
    webhook_duplicates: int  # deliveries repeating a webhook-id (allowed: at least once)
    dead_lettered: int  # records on the dead-letter topics during the scenario
    dead: int  # notifications marked dead
    recover_s: float | None  # fault's end -> drained; None: not drained in time
    matched_s: float | None  # fault's end -> every expected match there (webhooks may lag)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.doubled == 0
            and self.unexpected == 0
            and self.dead_lettered == 0
            and self.dead == 0
            and self.recover_s is not None
        )


@dataclass
class Run:
    """The suite and what every scenario shares."""

    suite: Suite
    api: h.Api
    receiver: WebhookReceiver
    server_url: str
    data: RoadshowData
    rate: float  # enterprises registered per second
    drain_s: float  # deadline to drain after a fault
    rng: random.Random
    expected: dict[h.Pair, int] = field(default_factory=dict)  # the control's matches
    receiver_port: int = 0
    notes: list[str] = field(default_factory=list)  # the current scenario's
    topics_reset: bool = False  # the broker forgot the topics during this scenario

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.suite.kafka_port}"


# What make up says when it supervises (its start-up lines are not the scenario's).
SUPERVISION = re.compile(r"exited with|restart|reconnected|replay|did not start")

Fault = Callable[[Run, h.Show], Awaitable[float]]  # runs the fault; returns when it ended


async def control(run: Run) -> Outcome:
    """The same parties with no fault: what every scenario must end with."""
    outcome = await scenario(run, "control (no fault)", _no_fault)
    return outcome


async def _no_fault(run: Run, show: h.Show) -> float:
    return time.monotonic()


async def scenario(run: Run, name: str, fault: Fault, drain_s: float | None = None) -> Outcome:
    """Registrations flow at run.rate while `fault` runs; then wait until drained (at
    most `drain_s`, default run.drain_s) and compare with the control."""
    run.notes, run.topics_reset = [], False
    log_from = _supervisor_log(run).stat().st_size
    show = await h.set_up_show(
        run.api, run.suite.admin_token(), run.receiver, run.data, name.split()[0]
    )
    dlq_before = await h.dead_letters(run.bootstrap)
    load = asyncio.create_task(h.register(run.api, show, run.data, run.rate))
    try:
        fault_end = await fault(run, show)
    finally:
        await load
    want = sum(run.expected.values()) if run.expected else 0
    matched: list[float] = []
    drained = await h.until(lambda: _settled(run, show, want, matched), drain_s or run.drain_s, 0.5)
    recover = time.monotonic() - fault_end if drained else None
    matched_s = matched[0] - fault_end if matched else None
    found = await h.matches(run.api, show)
    with _supervisor_log(run).open() as said:  # what make up said about its processes
        said.seek(log_from)
        run.notes += [line.strip() for line in said if SUPERVISION.search(line)]
    if not run.expected:  # this is the control
        run.expected = dict(h.pairs(found))
    return await _outcome(run, show, name, found, (recover, matched_s), dlq_before)


def _supervisor_log(run: Run) -> Path:
    return run.suite.home / "deploy-local.out"


async def _settled(run: Run, show: h.Show, want: int, matched: list[float]) -> bool:
    if want:
        if not matched and await h.match_count(run.api, show) >= want:
            matched.append(time.monotonic())
        return bool(matched) and await h.drained(run.api, show, run.receiver, want)
    # The control: settled when its count stops moving and every webhook is in.
    first = await h.match_count(run.api, show)
    await asyncio.sleep(3.0)
    return (
        first > 0
        and first == await h.match_count(run.api, show)
        and await h.drained(run.api, show, run.receiver, first)
    )


async def _outcome(
    run: Run,
    show: h.Show,
    name: str,
    found: list[h.Json],
    times: tuple[float | None, float | None],
    dlq_before: int,
) -> Outcome:
    got = h.pairs(found)
    ids = [m["match_id"] for m in found]
    expected_hooks = h.expected_hooks(show, found)
    hooks = [r for r in h.shows_hooks(show, run.receiver) if r.verified]
    first_id: dict[h.Key, str] = {}
    doubled_hooks = 0
    for r in hooks:
        key = h.hook_key(r)
        if key is not None and first_id.setdefault(key, r.webhook_id) != r.webhook_id:
            doubled_hooks += 1
    distinct = {r.webhook_id for r in hooks}
    delivered_keys = set(first_id)
    lost_matches = sum(max(0, n - got.get(p, 0)) for p, n in run.expected.items())
    return Outcome(
        scenario=name,
        registrations=len(show.enterprises),
        matches_expected=sum(run.expected.values()),
        matches=len(found),
        lost=lost_matches + len(expected_hooks - delivered_keys),
        doubled=(len(ids) - len(set(ids)))
        + sum(n - 1 for n in got.values() if n > 1)
        + doubled_hooks,
        unexpected=sum(1 for p in got if p not in run.expected),
        webhooks_expected=len(expected_hooks),
        webhooks_distinct=len(distinct),
        webhook_duplicates=len(hooks) - len(distinct),
        # After a broker restart the dead-letter topics start empty again.
        dead_lettered=await h.dead_letters(run.bootstrap) - (0 if run.topics_reset else dlq_before),
        dead=await h.dead_notifications(run.api, show),
        recover_s=times[0],
        matched_s=times[1],
        notes=run.notes,
    )


# --- the faults ----------------------------------------------------------------------------


def kills(services: tuple[str, ...], per_service: int, within: float) -> Fault:
    """SIGKILL each service's process `per_service` times at random moments during the
    first `within` seconds of the flow; make up restarts it."""

    async def fault(run: Run, show: h.Show) -> float:
        t0 = time.monotonic()
        plan = sorted(
            (run.rng.uniform(0.5, within), s) for s in services for _ in range(per_service)
        )
        for at, service in plan:
            await asyncio.sleep(max(0.0, t0 + at - time.monotonic()))
            try:
                h.kill(run.suite, service)
            except RuntimeError:  # still down from the last kill: the next one comes later
                await _until_up(run, service)
                h.kill(run.suite, service)
        return time.monotonic()

    return fault


async def _until_up(run: Run, service: str) -> None:
    url = run.suite.urls.by_service()[service]
    await h.until(lambda: run.api.ok(f"{url}/readyz", {}), 60, 0.2)


def database_outage(service: str, seconds: float, after: float) -> Fault:
    """`after` seconds into the flow, the service's database refuses connections (and
    its sessions are ended) for `seconds`, while the server serves the others."""

    async def fault(run: Run, show: h.Show) -> float:
        database = run.suite.db_prefix + service
        await asyncio.sleep(after)
        ended = await h.refuse_connections(run.server_url, database, allow=False)
        t = time.monotonic()
        while time.monotonic() - t < seconds:  # the fault's duration; re-end stragglers
            await asyncio.sleep(0.5)
            ended += await h.refuse_connections(run.server_url, database, allow=False)
        await h.refuse_connections(run.server_url, database, allow=True)
        run.notes.append(f"{database}: {ended} sessions ended, {seconds:g} s refused")
        return time.monotonic()

    return fault


def broker_restart(after: float) -> Fault:
    """SIGKILL the broker `after` seconds into the flow; make up restarts it empty."""

    async def fault(run: Run, show: h.Show) -> float:
        await asyncio.sleep(after)
        pid = h.kill_broker(run.suite)
        run.topics_reset = True
        run.notes.append(f"broker pid {pid} killed {after:.1f} s into the flow")
        return time.monotonic()

    return fault


def receiver_down(seconds: float) -> Fault:
    """The banks' receiver is down (connection refused) from the start for `seconds`."""

    async def fault(run: Run, show: h.Show) -> float:
        await run.receiver.stop()
        await asyncio.sleep(seconds)
        await run.receiver.start(port=run.receiver_port)
        return time.monotonic()

    return fault
