"""The event pipeline as the product runs it: HTTP -> registration -> outbox ->
Kafka -> matching -> Kafka -> notification -> signed webhook, on the suite `make up`
starts (its own state folder and ports), driven only through the public HTTP APIs.

    .venv/bin/python bench/pipeline.py                  # 1 + 3: 100/s for 60 s, then throughput
    .venv/bin/python bench/pipeline.py --quick          # smoke run: 20/s for 10 s
    .venv/bin/python bench/pipeline.py --fair           # 2 + 3: 1,000 enterprises, 2,000 participants
    .venv/bin/python bench/pipeline.py --replicas 2     # 1 + 3 with two members per consumer group
    .venv/bin/python bench/pipeline.py --url http://127.0.0.1:8081 --home .roadshow  # a running suite

Figures (targets printed beside them, never asserted):
 1. open-loop arrivals at --rate for --seconds, one delegation of one enterprise per POST, into a
    road show of 64 local participants whose banks subscribe at a local receiver verifying every
    signature: achieved rate, POST p50/p99, registration -> first bank webhook p50/p90/p99/max,
    peak consumer lag per service, webhooks delivered/verified/duplicated/lost, and the
    machine's CPU by who used it (services, their databases, broker, driver).
 2. --fair: seconds until every match is computed and every bank notified, peak RSS per process.
 3. delegation-of-5 POST throughput at 64 connections against a bare aiohttp + asyncpg INSERT.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import math
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _hooks import Hook, Receiver, tally
from _machine import Account, account, snapshot
from _suite import (
    SERVICES,
    ServiceProcess,
    Suite,
    Urls,
    cpu_seconds,
    embedded_postgres_url,
    free_port_run,
    memory_kb,
    ready,
    service_processes,
    supports_replicas,
)

from demo.generator import HOST_PARK, ORGANISER, generate
from shared.embedded import create_database, database_url, free_port, stop_process

Json = Any
Key = tuple[str, str, int]  # (bank participant id, match id, version): one event to one bank
LAG_METRICS = ("roadshow_consumer_event_age_seconds",)  # gauges of consumer lag, in seconds
ACTIVITY_METRICS = ("roadshow_consumer_messages_total", "roadshow_outbox_published_total")
READ_METRICS = (*LAG_METRICS, "roadshow_outbox_pending", *ACTIVITY_METRICS)

# --- options ---------------------------------------------------------------------------


@dataclass
class Options:
    rate: float
    seconds: float
    participants: int
    fair: bool
    fair_enterprises: int
    fair_participants: int
    fair_batch: int
    concurrency: int
    replicas: int
    seed: int
    drain_seconds: float
    throughput_seconds: float
    connections: int
    skip_throughput: bool
    home: Path
    url: str | None
    suite_pid: int | None
    database_url: str | None
    cap: int


def parse_options(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--rate", type=float, default=100.0, help="arrivals per second (figure 1)")
    p.add_argument("--seconds", type=float, default=60.0, help="how long arrivals go on")
    p.add_argument(
        "--quick", action="store_true", help="smoke run: --rate 20 --seconds 10, short waits"
    )
    p.add_argument("--participants", type=int, default=64, help="local participants (figure 1)")
    p.add_argument("--fair", action="store_true", help="figure 2 instead of figure 1")
    p.add_argument("--fair-enterprises", type=int, default=1000)
    p.add_argument("--fair-participants", type=int, default=2000)
    p.add_argument(
        "--fair-batch", type=int, default=10, help="enterprises per delegation (figure 2)"
    )
    p.add_argument("--concurrency", type=int, default=32, help="POSTs in flight (figure 2)")
    p.add_argument("--replicas", type=int, default=1, help="members per consumer group")
    p.add_argument("--seed", type=int, default=2019)
    p.add_argument(
        "--drain-seconds", type=float, default=None, help="deadline to drain (120; fair 300)"
    )
    p.add_argument(
        "--throughput-seconds", type=float, default=None, help="per endpoint (10; quick 4)"
    )
    p.add_argument("--connections", type=int, default=64, help="connections (figure 3)")
    p.add_argument("--skip-throughput", action="store_true", help="leave figure 3 out")
    p.add_argument(
        "--home",
        default=".roadshow/bench-pipeline",
        help="state folder (wiped if the bench made it)",
    )
    p.add_argument("--url", default=None, help="registration URL of a running suite (ports follow)")
    p.add_argument(
        "--suite-pid", type=int, default=None, help="pid of that suite's deploy.local (RSS)"
    )
    p.add_argument("--database-url", default=None, help="PostgreSQL server for the bare endpoint")
    p.add_argument("--cap", type=int, default=2000, help="open-loop POSTs in flight at most")
    a = p.parse_args(argv)
    if a.quick:
        a.rate, a.seconds = 20.0, 10.0
        a.fair_enterprises, a.fair_participants = 100, 200
    return Options(
        rate=a.rate,
        seconds=a.seconds,
        participants=a.participants,
        fair=a.fair,
        fair_enterprises=a.fair_enterprises,
        fair_participants=a.fair_participants,
        fair_batch=a.fair_batch,
        concurrency=a.concurrency,
        replicas=max(1, a.replicas),
        seed=a.seed,
        drain_seconds=a.drain_seconds or (60.0 if a.quick else 300.0 if a.fair else 120.0),
        throughput_seconds=a.throughput_seconds or (4.0 if a.quick else 10.0),
        connections=a.connections,
        skip_throughput=a.skip_throughput,
        home=Path(a.home).resolve(),
        url=a.url,
        suite_pid=a.suite_pid,
        database_url=a.database_url,
        cap=a.cap,
    )


# --- printing --------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile; nan when there is nothing."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"


def line(label: str, value: str, target: str = "") -> None:
    print(f"  {label:<46} {value}" + (f"   [target {target}]" if target else ""))


def verdict(ok: bool) -> str:
    return "meets it" if ok else "MISSES"


def heading(text: str) -> None:
    print(f"\n== {text}", flush=True)


# --- HTTP ------------------------------------------------------------------------------


class Api:
    """The public HTTP APIs, as any client calls them."""

    def __init__(self, session: aiohttp.ClientSession, urls: Urls) -> None:
        self.s = session
        self.urls = urls

    async def call(
        self, method: str, url: str, headers: dict[str, str], body: Json = None, params: Any = None
    ) -> Json:
        async with self.s.request(method, url, json=body, headers=headers, params=params) as r:
            text = await r.text()
            if r.status >= 300:
                raise RuntimeError(f"{method} {url} -> {r.status}: {text[:300]}")
            return await r.json(content_type=None) if text else None

    async def status(self, url: str, headers: dict[str, str]) -> int:
        async with self.s.get(url, headers=headers) as r:
            await r.read()
            return r.status

    async def pages(self, url: str, headers: dict[str, str], **query: str) -> list[Json]:
        """Every item of a list endpoint; the cursor is opaque, handed back as given."""
        items: list[Json] = []
        cursor: Any = None
        while True:
            params = {"limit": "500", **query} | ({"cursor": str(cursor)} if cursor else {})
            page = await self.call("GET", url, headers, params=params)
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items


async def gather_limited(n: int, jobs: Iterable[Callable[[], Awaitable[Json]]]) -> list[Json]:
    sem = asyncio.Semaphore(n)

    async def one(job: Callable[[], Awaitable[Json]]) -> Json:
        async with sem:
            return await job()

    return list(await asyncio.gather(*(one(j) for j in jobs)))


async def until(probe: Callable[[], Awaitable[bool]], seconds: float, every: float = 0.3) -> bool:
    deadline = time.monotonic() + seconds
    while not await probe():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)
    return True


# --- the road show -----------------------------------------------------------------------


@dataclass
class Show:
    roadshow_id: str
    organiser: dict[str, str]  # headers of the partner that organises and posts delegations
    park: dict[str, str]  # headers of the partner that registers the local participants
    banks: set[str]
    participants: int
    event_types: list[str]
    delegation: dict[str, Any]  # name and origin of the delegation bodies


async def partner(api: Api, admin: dict[str, str], name: str, tag: str) -> dict[str, str]:
    out = await api.call("POST", f"{api.urls.registration}/admin/partners", admin, {"name": name})
    return {"Authorization": f"Bearer {out['api_key']}", "X-Correlation-ID": f"bench-{tag}"}


async def set_up_show(
    api: Api,
    admin_token: str,
    receiver: Receiver,
    participants: list[dict[str, Any]],
    roadshow: dict[str, Any],
    concurrency: int,
) -> Show:
    """Partners, the road show, its participants, and every bank subscribed to every
    event type notification offers, at the receiver."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    organiser = await partner(api, admin, ORGANISER, "organiser")
    park = await partner(api, admin, HOST_PARK, "park")
    reg = api.urls.registration
    rid = (await api.call("POST", f"{reg}/v1/roadshows", organiser, roadshow))["roadshow_id"]
    posted = await gather_limited(
        concurrency,
        (
            partial(api.call, "POST", f"{reg}/v1/participants", park, {**p, "roadshow_id": rid})
            for p in participants
        ),
    )
    banks = {p["participant_id"] for p in posted if p["kind"] == "bank"}
    types = (await api.call("GET", f"{api.urls.notification}/v1/event-types", {}))["event_types"]
    show = Show(rid, organiser, park, banks, len(posted), types, {})
    await subscribe_banks(api, show, receiver, concurrency)
    return show


async def subscribe_banks(api: Api, show: Show, receiver: Receiver, concurrency: int) -> None:
    note = api.urls.notification
    # The partner's key reaches notification as an event: wait until it is accepted there.
    known = await until(
        lambda: _is_ok(api.status(f"{note}/v1/subscriptions", show.park)), seconds=60
    )
    if not known:
        raise TimeoutError("notification did not learn the park's API key within 60 s")

    async def one(bank: str) -> None:
        body = {
            "url": f"{receiver.url}/hooks/{bank}",
            "description": "bench bank",
            "event_types": show.event_types,
            "participant_ids": [bank],
        }
        sub = await api.call("POST", f"{note}/v1/subscriptions", show.park, body)
        receiver.add_secret(bank, sub["secret"])

    await gather_limited(concurrency, (partial(one, b) for b in sorted(show.banks)))


async def _is_ok(status: Awaitable[int]) -> bool:
    return await status == 200


def delegation_body(show: Show, enterprises: list[dict[str, Any]]) -> dict[str, Any]:
    return {**show.delegation, "roadshow_id": show.roadshow_id, "enterprises": enterprises}


async def post_delegation(api: Api, show: Show, enterprises: list[dict[str, Any]]) -> list[str]:
    url = f"{api.urls.registration}/v1/delegations"
    out = await api.call("POST", url, show.organiser, delegation_body(show, enterprises))
    return [e["enterprise_id"] for e in out["enterprises"]]


async def bank_expectations(api: Api, show: Show, enterprises: set[str]) -> dict[Key, str]:
    """What each bank should have received for these enterprises, from matching's API:
    one webhook per match event, i.e. versions 1..version of every bank match
    (version 1 is match.proposed, later ones match.updated). Value: the enterprise."""
    url = f"{api.urls.matching}/v1/roadshows/{show.roadshow_id}/matches"
    expected: dict[Key, str] = {}
    for m in await api.pages(url, show.organiser, kind="bank"):
        if m["enterprise_id"] in enterprises and m["participant_id"] in show.banks:
            for v in range(1, int(m["version"]) + 1):
                expected[(m["participant_id"], m["match_id"], v)] = m["enterprise_id"]
    return expected


async def match_count(api: Api, show: Show) -> int:
    url = f"{api.urls.matching}/v1/roadshows/{show.roadshow_id}/figures"
    return int((await api.call("GET", url, show.organiser))["matches"])


# --- sampling during a run -------------------------------------------------------------------


@dataclass
class Peaks:
    lag: dict[tuple[str, str], float] = field(default_factory=dict)  # (service, consumer) -> s
    outbox: dict[str, float] = field(default_factory=dict)  # service -> rows
    activity: dict[str, float] = field(default_factory=dict)  # service -> consumed + published
    moved_at: dict[str, float] = field(default_factory=dict)  # service -> when activity last moved
    rss_kb: dict[ServiceProcess, int] = field(default_factory=dict)
    cpu_s: dict[ServiceProcess, tuple[float, float]] = field(default_factory=dict)  # first, last
    loop_lag: list[float] = field(default_factory=list)
    metrics_seen: bool = False

    def note(self, table: dict[Any, Any], key: Any, value: float) -> None:
        table[key] = max(table.get(key, value), value)


def read_metrics(service: str, text: str, peaks: Peaks) -> None:
    activity = 0.0  # messages its consumers finished with, plus events its relay published
    # Only the samples read here go through the (pure-Python) parser: parsing every
    # line twice a second was a fifth of the driver's CPU, on the machine it measures.
    wanted = "\n".join(line for line in text.splitlines() if line.startswith(READ_METRICS))
    for family in text_string_to_metric_families(wanted):
        for s in family.samples:
            if s.name in LAG_METRICS:
                peaks.metrics_seen = True
                peaks.note(peaks.lag, (service, s.labels.get("consumer", "?")), s.value)
            elif s.name == "roadshow_outbox_pending":
                peaks.note(peaks.outbox, service, s.value)
            elif s.name in ACTIVITY_METRICS:
                activity += s.value
    if peaks.activity.get(service) != activity:
        peaks.activity[service] = activity
        peaks.moved_at[service] = time.time()


class Sampler:
    """Polls each service's /metrics, the service processes' memory and this
    driver's own event-loop lag, until stopped."""

    def __init__(self, api: Api, processes: Callable[[], list[ServiceProcess]]) -> None:
        self.api = api
        self.processes = processes
        self.peaks = Peaks()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> Sampler:
        self._tasks = [
            asyncio.create_task(self._metrics()),
            asyncio.create_task(self._memory()),
            asyncio.create_task(self._loop()),
        ]
        return self

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _metrics(self) -> None:
        while True:
            for service, url in self.api.urls.by_service().items():
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                    async with self.api.s.get(f"{url}/metrics") as r:
                        read_metrics(service, await r.text(), self.peaks)
            await asyncio.sleep(0.5)

    async def _memory(self) -> None:
        # VmHWM is the kernel's own peak, so a reading every half second misses no
        # peak; finding the processes walks all of /proc, so it is done every 5 s.
        procs: list[ServiceProcess] = []
        for rounds in itertools.count():
            if rounds % 10 == 0:
                procs = self.processes()
            for proc in procs:
                mem = memory_kb(proc.pid)
                if mem is not None:
                    self.peaks.note(self.peaks.rss_kb, proc, max(mem))
                cpu = cpu_seconds(proc.pid)
                if cpu is not None:
                    first, _ = self.peaks.cpu_s.get(proc, (cpu, cpu))
                    self.peaks.cpu_s[proc] = (first, cpu)
            await asyncio.sleep(0.5)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.05)
            self.peaks.loop_lag.append(loop.time() - t - 0.05)


def print_peaks(peaks: Peaks, replicas: int) -> None:
    if not peaks.metrics_seen:
        line("peak consumer lag", f"n/a (no {', '.join(LAG_METRICS)} on any /metrics)")
    for (service, consumer), value in sorted(peaks.lag.items()):
        line(f"peak consumer lag {service} ({consumer})", f"{value:.2f} s  (event age at handling)")
    for service, value in sorted(peaks.outbox.items()):
        if value > 0:  # the gauge is 0 whenever a relay finds nothing to send
            line(f"peak outbox pending {service}", f"{value:.0f} rows")
    members = {s: sum(1 for p in peaks.rss_kb if p.service == s) for s in SERVICES}
    if peaks.rss_kb:
        line("service processes seen", ", ".join(f"{s} {n}" for s, n in members.items()))
    for proc, kb in sorted(
        peaks.rss_kb.items(), key=lambda kv: (SERVICES.index(kv[0].service), kv[0].pid)
    ):
        mb = kb / 1024
        line(
            f"peak RSS {proc.service} {proc.role} (pid {proc.pid})",
            f"{mb:.0f} MB",
            f"< 300 MB: {verdict(mb < 300)}",
        )
    for proc, (first, last) in sorted(
        peaks.cpu_s.items(), key=lambda kv: (SERVICES.index(kv[0].service), kv[0].pid)
    ):
        line(f"CPU used {proc.service} {proc.role} (pid {proc.pid})", f"{last - first:.1f} s")
    if not peaks.rss_kb:
        line("peak RSS", "n/a (service pids unknown: pass --suite-pid with --url)")
    if replicas > 1:
        line("members per group requested", str(replicas))
    lag = peaks.loop_lag
    usage = resource.getrusage(resource.RUSAGE_SELF)
    line("driver CPU (this process, so far)", f"{usage.ru_utime + usage.ru_stime:.1f} s")
    line(
        "driver event-loop lag p99 / max", f"{ms(pct(lag, 99))} / {ms(max(lag, default=math.nan))}"
    )


# --- figure 1: open-loop arrivals --------------------------------------------------------------


@dataclass
class Load:
    sent_at: dict[str, float] = field(default_factory=dict)  # enterprise id -> POST send time
    post_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    late_s: list[float] = field(default_factory=list)  # send time behind its schedule
    in_flight: int = 0
    peak_in_flight: int = 0
    first_send: float = math.nan
    last_send: float = math.nan
    last_done: float = math.nan
    unfinished: int = 0


async def open_loop(
    api: Api, show: Show, enterprises: list[dict[str, Any]], rate: float, cap: int, grace: float
) -> Load:
    """Send one delegation of one enterprise at t0 + i / rate, whatever the replies do
    (at most `cap` in flight); wait `grace` seconds after the last send for replies."""
    load = Load()
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(cap)
    t0 = loop.time() + 0.1

    async def one(i: int, enterprise: dict[str, Any]) -> None:
        async with sem:
            load.late_s.append(loop.time() - (t0 + i / rate))
            sent = time.time()
            load.first_send = sent if math.isnan(load.first_send) else load.first_send
            load.last_send = sent
            load.in_flight += 1
            load.peak_in_flight = max(load.peak_in_flight, load.in_flight)
            try:
                ids = await post_delegation(api, show, [enterprise])
            except (TimeoutError, aiohttp.ClientError, RuntimeError) as exc:
                load.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                return
            finally:
                load.in_flight -= 1
            load.last_done = time.time()
            load.post_s.append(load.last_done - sent)
            load.sent_at[ids[0]] = sent

    tasks: list[asyncio.Task[None]] = []
    for i, enterprise in enumerate(enterprises):
        delay = t0 + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, enterprise)))
    _, pending = await asyncio.wait(tasks, timeout=grace)
    for t in pending:
        t.cancel()
    load.unfinished = len(pending)
    return load


# --- draining: until matching is quiet and every expected webhook arrived ------------------------


@dataclass
class Drain:
    expected: dict[Key, str]
    matches_final: int
    matches_done_at: float  # time.time() when the match count first reached its final value
    matching_settled: bool
    delivered_all: bool
    waited_s: float


async def drain(
    api: Api,
    show: Show,
    receiver: Receiver,
    sampler: Sampler,
    enterprises: set[str],
    *,
    seconds: float,
    quiet: float,
    every: float,
) -> Drain:
    """Matching has computed every match when the road show's match count and
    matching's consumed-message counter have not moved for `quiet` seconds; then the
    expected webhooks are read from matching's API and awaited until `seconds` pass."""
    start = time.monotonic()
    deadline = start + seconds
    settled, final, done_at = await matching_quiet(api, show, sampler, deadline, quiet, every)
    expected = await bank_expectations(api, show, enterprises)
    delivered = await until(
        lambda: _all_in(expected, receiver.hooks), deadline - time.monotonic(), 1.0
    )
    return Drain(expected, final, done_at, settled, delivered, time.monotonic() - start)


async def matching_quiet(
    api: Api, show: Show, sampler: Sampler, deadline: float, quiet: float, every: float
) -> tuple[bool, int, float]:
    """(settled, match count, when matching last moved). The match count comes from
    matching's figures, which reads every match: it is polled at most a fifth of the
    time, the cheap /metrics counters (sampled every 0.5 s) say precisely when
    matching last consumed or published anything."""
    last_count, count_changed = -1, time.time()
    while True:
        t = time.monotonic()
        count = await match_count(api, show)
        took = time.monotonic() - t
        if count != last_count:
            last_count, count_changed = count, time.time()
        moved = max(count_changed, sampler.peaks.moved_at.get("matching", 0.0))
        if time.time() - moved >= quiet:
            return True, count, moved
        if time.monotonic() > deadline:
            return False, count, math.nan
        await asyncio.sleep(max(every, 4 * took))


async def _all_in(expected: dict[Key, str], hooks: list[Hook]) -> bool:
    got = {h.key for h in hooks if h.verified}
    return all(k in got for k in expected)


def first_arrivals(hooks: list[Hook]) -> tuple[dict[str, float], dict[Key, float]]:
    """First verified arrival per enterprise and per (bank, match, version)."""
    by_enterprise: dict[str, float] = {}
    by_key: dict[Key, float] = {}
    for h in hooks:
        if not h.verified or not h.match_id:
            continue
        by_enterprise[h.enterprise_id] = min(h.at, by_enterprise.get(h.enterprise_id, h.at))
        by_key[h.key] = min(h.at, by_key.get(h.key, h.at))
    return by_enterprise, by_key


def print_webhooks(
    hooks: list[Hook], expected: dict[Key, str], enterprises: set[str], drained: bool
) -> None:
    ours = [h for h in hooks if h.enterprise_id in enterprises]
    t = tally(ours)
    got = {h.key for h in ours if h.verified and h.match_id}
    lost = sum(1 for k in expected if k not in got)
    unexpected = sum(1 for k in got if k not in expected)
    line("webhooks expected (matching's API)", f"{len(expected)}")
    line("webhooks delivered / verified", f"{t.delivered} / {t.verified}")
    line(
        "webhooks duplicated (same webhook-id)",
        f"{t.duplicated}",
        f"0: {verdict(t.duplicated == 0)}",
    )
    line("events doubled (new webhook-id)", f"{t.doubled}", f"0: {verdict(t.doubled == 0)}")
    label = "webhooks lost (expected, not received)"
    if drained:
        line(label, f"{lost}", f"0: {verdict(lost == 0)}")
    else:
        line(label, f"{lost} not received by the deadline (not drained)", "0: MISSES")
    if unexpected:
        line("webhooks not in matching's API", f"{unexpected}")


def print_drain(d: Drain, seconds: float) -> None:
    state = "quiet" if d.matching_settled else f"still moving at the {seconds:.0f} s deadline"
    line("matches in the road show (figures)", f"{d.matches_final} ({state})")
    reached = "all" if d.delivered_all else f"NOT all by the {seconds:.0f} s deadline"
    line("expected webhooks delivered", f"{reached} (waited {d.waited_s:.1f} s)")
    if not d.matching_settled:
        line("  note", "matching was not done: expected counts only the matches it had computed")


async def figure_one(api: Api, opts: Options, admin_token: str, sampler: Sampler) -> None:
    n = max(1, round(opts.rate * opts.seconds))
    heading(
        f"1. open loop: {opts.rate:g} registrations/s for {opts.seconds:g} s into a road show of "
        f"{opts.participants} participants"
    )
    locals_ = generate(opts.seed, 0, opts.participants)
    pool = generate(opts.seed + 1, n + 4, 0)
    enterprises = pool.delegation["enterprises"]
    receiver = await Receiver().start()
    try:
        show = await set_up_show(
            api, admin_token, receiver, locals_.participants, locals_.roadshow, 16
        )
        show.delegation = {k: v for k, v in pool.delegation.items() if k != "enterprises"}
        line(
            "participants / banks subscribed",
            f"{show.participants} / {len(show.banks)} at {receiver.url}",
        )
        line("event types subscribed", ", ".join(show.event_types))
        await warm_up(api, show, receiver, enterprises[:4])
        before = snapshot(sampler.processes())
        load = await open_loop(api, show, enterprises[4:], opts.rate, opts.cap, grace=30.0)
        print_load(load, opts.rate, n)
        ids = set(load.sent_at)
        d = await drain(
            api, show, receiver, sampler, ids, seconds=opts.drain_seconds, quiet=5.0, every=1.0
        )
        print_drain(d, opts.drain_seconds)
        if d.matching_settled:
            line(
                "matching done, after the last send", f"{d.matches_done_at - load.last_send:.1f} s"
            )
        machine = account(before, snapshot(sampler.processes()))
        print_first_webhook(load, d.expected, receiver.hooks)
        print_webhooks(receiver.hooks, d.expected, ids, d.delivered_all and d.matching_settled)
        print_machine(machine, len(ids), "(first POST to drain end)")
    finally:
        await receiver.stop()


async def warm_up(
    api: Api, show: Show, receiver: Receiver, enterprises: list[dict[str, Any]]
) -> None:
    """A few enterprises end to end before the clock runs: the consumers have joined
    their groups and notification knows the participants. Not counted."""
    t = time.monotonic()
    ids = set(await post_delegation(api, show, enterprises))

    async def through() -> bool:
        expected = await bank_expectations(api, show, ids)
        return bool(expected) and await _all_in(expected, receiver.hooks)

    ok = await until(through, 120, 1.0)
    took = f"{time.monotonic() - t:.1f} s"
    line(
        "warm-up (4 enterprises end to end)", took if ok else f"NOT through after {took}; going on"
    )


def print_load(load: Load, rate: float, n: int) -> None:
    span = load.last_send - load.first_send
    achieved = (len(load.post_s) - 1) / span if span > 0 else math.nan
    line("arrivals scheduled / answered 201", f"{n} / {len(load.post_s)}")
    line("achieved rate", f"{achieved:.1f} /s (offered {rate:g} /s)")
    line("POSTs in flight at most", str(load.peak_in_flight))
    line(
        "sends behind schedule p99 / max",
        f"{ms(pct(load.late_s, 99))} / {ms(max(load.late_s, default=math.nan))}",
    )
    line(
        "POST /v1/delegations (1 enterprise)",
        f"p50 {ms(pct(load.post_s, 50))}  p99 {ms(pct(load.post_s, 99))}",
    )
    if load.errors or load.unfinished:
        line("POST errors / unanswered", f"{len(load.errors)} / {load.unfinished}")
        for e in sorted(set(load.errors))[:3]:
            line("  e.g.", e)


def print_first_webhook(load: Load, expected: dict[Key, str], hooks: list[Hook]) -> None:
    first, _ = first_arrivals(hooks)
    wanted = set(expected.values())  # enterprises some bank should hear of
    lat = [first[e] - load.sent_at[e] for e in wanted if e in first and e in load.sent_at]
    line("enterprises with a bank match", f"{len(wanted)} of {len(load.sent_at)}")
    line(
        "registration -> first bank webhook",
        f"p50 {ms(pct(lat, 50))}  p90 {ms(pct(lat, 90))}  p99 {ms(pct(lat, 99))}  max {ms(max(lat, default=math.nan))}",
        f"p50 < 100 ms, p99 < 250 ms: {verdict(pct(lat, 50) < 0.1 and pct(lat, 99) < 0.25 and len(lat) == len(wanted))}",
    )
    if len(lat) < len(wanted):
        line(
            "  enterprises no bank has heard of yet",
            f"{len(wanted) - len(lat)} (not in the percentiles)",
        )


def print_machine(machine: Account, enterprises: int | None, stretch: str) -> None:
    """Who used the machine's cores: on one machine the services' databases, the
    broker and this driver share them with the services."""
    capacity = machine.wall * machine.cores
    line(
        "machine CPU " + stretch,
        f"{machine.busy:.1f} s of {capacity:.1f} s ({machine.wall:.1f} s on {machine.cores} "
        f"cores: {machine.busy / capacity:.0%} busy)",
    )
    for who, seconds in sorted(machine.by_who.items(), key=lambda kv: -kv[1]):
        if seconds >= 0.1:
            line(f"  {who}", f"{seconds:.1f} s")
    line("  the rest (kernel, ended processes, others)", f"{machine.rest:.1f} s")
    if enterprises:
        line(
            "  per enterprise registered",
            f"{1000 * machine.busy / enterprises:.1f} ms of the machine's CPU",
        )


# --- figure 2: a fair's registration rush --------------------------------------------------------


async def figure_two(api: Api, opts: Options, admin_token: str, sampler: Sampler) -> None:
    heading(
        f"2. fair: {opts.fair_enterprises} enterprises and {opts.fair_participants} participants "
        f"as fast as the API takes them ({opts.concurrency} in flight)"
    )
    data = generate(opts.seed, opts.fair_enterprises, opts.fair_participants)
    receiver = await Receiver().start()
    try:
        t = time.time()
        show = await set_up_show(
            api, admin_token, receiver, data.participants, data.roadshow, opts.concurrency
        )
        show.delegation = {k: v for k, v in data.delegation.items() if k != "enterprises"}
        line(
            "participants posted, banks subscribed",
            f"{show.participants}, {len(show.banks)} in {time.time() - t:.1f} s",
        )
        t = time.time()
        before = snapshot(sampler.processes())
        ids = await post_enterprises(api, show, data.delegation["enterprises"], opts)
        last_post = time.time()
        line(
            "enterprises posted",
            f"{len(ids)} in {last_post - t:.1f} s ({len(ids) / (last_post - t):.0f} /s)",
        )
        every = max(1.0, min(5.0, opts.fair_enterprises / 300))
        d = await drain(
            api, show, receiver, sampler, ids, seconds=opts.drain_seconds, quiet=10.0, every=every
        )
        machine = account(before, snapshot(sampler.processes()))
        print_drain(d, opts.drain_seconds)
        print_fair_times(d, receiver.hooks, last_post)
        print_webhooks(receiver.hooks, d.expected, ids, d.delivered_all and d.matching_settled)
        print_machine(machine, len(ids), "(first enterprise to drain end)")
    finally:
        await receiver.stop()


async def post_enterprises(
    api: Api, show: Show, enterprises: list[dict[str, Any]], opts: Options
) -> set[str]:
    batches = [
        enterprises[i : i + opts.fair_batch] for i in range(0, len(enterprises), opts.fair_batch)
    ]
    posted = await gather_limited(
        opts.concurrency, (partial(post_delegation, api, show, b) for b in batches)
    )
    return {e for ids in posted for e in ids}


def print_fair_times(d: Drain, hooks: list[Hook], last_post: float) -> None:
    if d.matching_settled:
        took = d.matches_done_at - last_post
        line(
            "every match computed, after last POST",
            f"{took:.1f} s",
            f"< 60 s: {verdict(took < 60)}",
        )
    else:
        line(
            "every match computed, after last POST",
            f"not reached ({d.matches_final} matches so far)",
            "< 60 s: MISSES",
        )
    _, by_key = first_arrivals(hooks)
    arrived = [by_key[k] for k in d.expected if k in by_key]
    if d.delivered_all and arrived:
        took = max(arrived) - last_post
        line(
            "every bank notified, after last POST",
            f"{took:.1f} s",
            f"< 120 s: {verdict(took < 120)}",
        )
    else:
        line(
            "every bank notified, after last POST",
            f"not reached ({len(arrived)} of {len(d.expected)} delivered)",
            "< 120 s: MISSES",
        )


# --- figure 3: delegation-of-5 throughput against a bare INSERT ------------------------------


@dataclass
class Throughput:
    ok: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else math.nan


async def closed_loop(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    bodies: Iterator[dict[str, Any]],
    connections: int,
    seconds: float,
) -> Throughput:
    """`connections` clients, each POSTing again as soon as its reply is in."""
    lat: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def client() -> None:
        nonlocal errors
        while time.monotonic() < stop:
            t = time.monotonic()
            try:
                async with session.post(url, json=next(bodies), headers=headers) as r:
                    await r.read()
                    if r.status == 201:
                        lat.append(time.monotonic() - t)
                    else:
                        errors += 1
            except (TimeoutError, aiohttp.ClientError):
                errors += 1

    t0 = time.monotonic()
    await asyncio.gather(*(client() for _ in range(connections)))
    return Throughput(len(lat), errors, time.monotonic() - t0, lat)


@contextlib.asynccontextmanager
async def bare_endpoint(server_url: str) -> Any:
    """The bare endpoint as its own process, in a database of its own on the suite's server."""
    await create_database(server_url, "roadshow_bench_bare")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("_bare.py")),
            "--dsn",
            database_url(server_url, "roadshow_bench_bare"),
            "--port",
            str(port),
        ],
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        up = await until(lambda: _healthy(f"{url}/healthz"), 30, 0.2)
        if not up:
            raise TimeoutError("the bare endpoint did not start within 30 s")
        yield f"{url}/items"
    finally:
        stop_process(process)


async def _healthy(url: str) -> bool:
    try:
        async with aiohttp.ClientSession() as s, s.get(url) as r:
            return r.status == 200
    except aiohttp.ClientError:
        return False


async def delegations_of_five(
    api: Api, admin_token: str, seed: int
) -> tuple[dict[str, str], Iterator[dict[str, Any]]]:
    """A partner of its own, a road show without participants, and an endless stream
    of delegation bodies with 5 enterprises each."""
    admin = {"Authorization": f"Bearer {admin_token}"}
    organiser = await partner(api, admin, f"{ORGANISER} (throughput)", "throughput")
    data = generate(seed, 500, 0)
    url = f"{api.urls.registration}/v1/roadshows"
    rid = (await api.call("POST", url, organiser, data.roadshow))["roadshow_id"]
    base = {k: v for k, v in data.delegation.items() if k != "enterprises"}
    pool = data.delegation["enterprises"]
    bodies = (
        {**base, "roadshow_id": rid, "enterprises": [pool[(s + i) % len(pool)] for i in range(5)]}
        for s in itertools.count(0, 5)
    )
    return organiser, bodies


async def figure_three(
    api: Api,
    opts: Options,
    admin_token: str,
    server_url: str | None,
    processes: Callable[[], list[ServiceProcess]],
) -> None:
    heading(
        f"3. delegation of 5 at {opts.connections} connections for {opts.throughput_seconds:g} s: "
        "registration vs a bare aiohttp + asyncpg INSERT"
    )
    if server_url is None:
        line("bare endpoint", "skipped: no PostgreSQL URL (pass --database-url)")
        return
    organiser, bodies = await delegations_of_five(api, admin_token, opts.seed + 2)
    conn = aiohttp.TCPConnector(limit=opts.connections)
    async with bare_endpoint(server_url) as bare_url, aiohttp.ClientSession(connector=conn) as s:
        reg_url = f"{api.urls.registration}/v1/delegations"
        bare_1 = await closed_loop(
            s, bare_url, {}, bodies, opts.connections, opts.throughput_seconds
        )
        before = snapshot(processes())
        reg = await closed_loop(
            s, reg_url, organiser, bodies, opts.connections, opts.throughput_seconds
        )
        machine = account(before, snapshot(processes()))
        bare_2 = await closed_loop(
            s, bare_url, {}, bodies, opts.connections, opts.throughput_seconds
        )
    print_throughput("bare INSERT (before)", bare_1)
    print_throughput("registration POST /v1/delegations", reg)
    print_throughput("bare INSERT (after)", bare_2)
    floor = (bare_1.rate + bare_2.rate) / 2
    ratio = reg.rate / floor if floor else math.nan
    line("ratio registration / bare (mean)", f"{ratio:.3f}", f">= 0.3: {verdict(ratio >= 0.3)}")
    # The consumers take up the registrations as they come, on the same cores.
    print_machine(machine, None, "(registration's run)")


def print_throughput(label: str, t: Throughput) -> None:
    line(
        label,
        f"{t.rate:7.1f} req/s  p50 {ms(pct(t.latencies, 50))}  p99 {ms(pct(t.latencies, 99))}"
        + (f"  ({t.errors} errors)" if t.errors else ""),
    )


# --- the run -----------------------------------------------------------------------------------


async def run(opts: Options, target: Target) -> None:
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=opts.cap)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        api = Api(session, target.urls)
        sampler = Sampler(api, target.processes).start()
        try:
            if opts.fair:
                await figure_two(api, opts, target.admin_token, sampler)
            else:
                await figure_one(api, opts, target.admin_token, sampler)
            heading("during the run")
            print_peaks(sampler.peaks, opts.replicas)
        finally:
            await sampler.stop()
        if not opts.skip_throughput:
            await figure_three(api, opts, target.admin_token, target.server_url, target.processes)


def describe_replicas(opts: Options, started_by_bench: bool) -> None:
    if opts.replicas == 1:
        return
    if not started_by_bench:
        line(
            "replicas", f"{opts.replicas} requested: set ROADSHOW_REPLICAS when starting that suite"
        )
    elif supports_replicas():
        line("replicas", f"ROADSHOW_REPLICAS={opts.replicas} passed to make up")
    else:
        line(
            "replicas",
            f"NOT SUPPORTED by this make up (deploy/local.py has no ROADSHOW_REPLICAS): "
            f"ROADSHOW_REPLICAS={opts.replicas} passed, but one member per consumer group runs",
        )


@dataclass
class Target:
    """The suite a run drives: its URLs, operator token, service processes, database."""

    urls: Urls
    admin_token: str
    processes: Callable[[], list[ServiceProcess]]
    server_url: str | None


def attach(opts: Options, url: str) -> Target:
    """A suite already running (its state folder is --home)."""
    urls = Urls.from_port(int(url.rstrip("/").rsplit(":", 1)[1]))
    if not all(ready(u) for u in urls.by_service().values()):
        raise RuntimeError(f"the suite at {url} is not ready")
    pid = opts.suite_pid
    line("suite", f"already running at {url} (state {opts.home})")
    return Target(
        urls,
        (opts.home / "admin-token").read_text().strip(),
        (lambda: service_processes(pid)) if pid else (lambda: []),
        opts.database_url or embedded_postgres_url(opts.home),
    )


def launch(suite: Suite, opts: Options) -> Target:
    t = time.monotonic()
    suite.start(within_seconds=180)
    pid = suite.process.pid if suite.process else "?"
    line(
        "suite",
        f"make up (python -m deploy.local) ready in {time.monotonic() - t:.1f} s, pid {pid}",
    )
    ports = f"kafka {suite.kafka_port}, http {suite.first_port}-{suite.first_port + 2}"
    line("state / ports", f"{opts.home}, {ports}")
    server = opts.database_url or embedded_postgres_url(opts.home)
    return Target(suite.urls, suite.admin_token(), suite.services, server)


def main(argv: list[str] | None = None) -> int:
    opts = parse_options(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)  # also when started in the background (SIGINT ignored)
    print("Event pipeline bench: HTTP -> registration -> outbox -> Kafka -> matching -> Kafka")
    print("  -> notification -> signed webhook, through the public HTTP APIs only")
    suite: Suite | None = None
    try:
        if opts.url:
            target = attach(opts, opts.url)
        else:
            kafka_port, http_port = free_port_run(1, 41000, 50000), free_port_run(4)
            suite = Suite(opts.home, kafka_port, http_port, opts.replicas, opts.database_url)
            target = launch(suite, opts)
        describe_replicas(opts, suite is not None)
        # The services' loop: the driver shares the machine it measures, and spent
        # less of it under libuv.
        uvloop.run(run(opts, target))
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (RuntimeError, TimeoutError) as exc:  # the suite did not come up, or an API failed
        print(f"\n{exc}", file=sys.stderr)
        return 1
    finally:
        if suite is not None:
            suite.stop()
            print(f"\nsuite stopped (logs in {opts.home / 'logs'})")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
