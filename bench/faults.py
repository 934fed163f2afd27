"""Faults on the suite `make up` starts (its own state folder and ports), driven
only through the public HTTP APIs, OS signals and SQL on the Postgres server:

    .venv/bin/python bench/faults.py                      # every scenario, 400 enterprises each
    .venv/bin/python bench/faults.py --quick              # 60 enterprises each, short faults
    .venv/bin/python bench/faults.py --scenarios kills,broker --enterprises 1000

Scenarios (each on its own road show, after a control road show with the same
parties and no fault, which says what every scenario must end with):
  kills     SIGKILL of registration, matching and notification (API, relay and
            consumers: one process each) at random moments of the flow
  db        one service's database refuses connections for --db-seconds
            (ALLOW_CONNECTIONS false + pg_terminate_backend), then allows them again
  broker    the broker is killed; make up restarts it empty, recreates the topics and
            replays every outbox
  receiver  the banks' webhook receiver is down for --receiver-down seconds of a
            retry schedule compressed --compression times

Figures per scenario: lost (0), doubled (0), webhooks expected / delivered distinct /
duplicate deliveries (allowed: at least once, same webhook-id), dead-lettered (0),
dead notifications (0), time to recover (the fault's end until the pipeline drained).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from demo.generator import generate
from demo.receiver import WebhookReceiver
from shared.embedded import drop_database, free_port
from shared.testing.suite import SERVICES, Suite, embedded_postgres_url, free_port_run
from tests.faults import harness as h
from tests.faults import scenarios as sc

ALL = ("kills", "db", "broker", "receiver")
DB_PREFIX = "roadshow_bench_faults_"  # on a shared server, apart from other suites'


async def drop_databases(server_url: str) -> None:
    for service in SERVICES:
        await drop_database(server_url, DB_PREFIX + service)


@dataclass(frozen=True)
class Options:
    scenarios: tuple[str, ...]
    enterprises: int
    participants: int
    rate: float
    kills_per_service: int
    db_service: str
    db_seconds: float
    receiver_down: float
    compression: float
    drain_seconds: float
    seed: int
    home: Path
    database_url: str | None


def parse_options(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--scenarios", default=",".join(ALL), help=f"comma-separated of {ALL}")
    p.add_argument("--enterprises", type=int, default=400, help="registrations per scenario")
    p.add_argument("--participants", type=int, default=32, help="local participants per show")
    p.add_argument("--rate", type=float, default=25.0, help="registrations per second")
    p.add_argument("--kills", type=int, default=2, help="SIGKILLs per service (kills)")
    p.add_argument("--db-service", default="matching", help="whose database goes away (db)")
    p.add_argument("--db-seconds", type=float, default=10.0)
    p.add_argument("--receiver-down", type=float, default=15.0, help="seconds (receiver)")
    p.add_argument("--compression", type=float, default=600.0, help="retry schedule / this")
    p.add_argument("--drain-seconds", type=float, default=120.0)
    p.add_argument("--seed", type=int, default=2019)
    p.add_argument("--quick", action="store_true", help="60 enterprises, 5 s outages")
    p.add_argument("--home", default=".roadshow/bench-faults", help="state folder (wiped)")
    p.add_argument("--database-url", default=None, help="PostgreSQL server (default embedded)")
    a = p.parse_args(argv)
    if a.quick:
        a.enterprises, a.db_seconds, a.receiver_down, a.kills = 60, 5.0, 8.0, 1
    chosen = tuple(s.strip() for s in a.scenarios.split(",") if s.strip())
    if unknown := set(chosen) - set(ALL):
        p.error(f"unknown scenarios {sorted(unknown)}")
    return Options(
        chosen,
        a.enterprises,
        a.participants,
        a.rate,
        a.kills,
        a.db_service,
        a.db_seconds,
        a.receiver_down,
        a.compression,
        a.drain_seconds,
        a.seed,
        Path(a.home).resolve(),
        a.database_url,
    )


def faults(opts: Options) -> dict[str, tuple[str, sc.Fault]]:
    flow = opts.enterprises / opts.rate
    return {
        "kills": (
            f"kills: SIGKILL x{opts.kills_per_service} of each service",
            sc.kills(("registration", "matching", "notification"), opts.kills_per_service, flow),
        ),
        "db": (
            f"db: {opts.db_service}'s database refused for {opts.db_seconds:g} s",
            sc.database_outage(opts.db_service, opts.db_seconds, after=flow / 4),
        ),
        "broker": ("broker: killed, restarted empty", sc.broker_restart(after=flow / 3)),
        "receiver": (
            f"receiver: down {opts.receiver_down:g} s (= first "
            f"{h.retried_for(opts.compression, opts.receiver_down):.1f} h of retries)",
            sc.receiver_down(opts.receiver_down),
        ),
    }


def print_outcome(o: sc.Outcome) -> None:
    recover = "NOT DRAINED" if o.recover_s is None else f"{o.recover_s:.1f} s"
    matched = "n/a" if o.matched_s is None else f"{o.matched_s:.1f} s"
    print(f"\n== {o.scenario}   [{'ok' if o.ok else 'FAILED'}]")
    rows = [
        ("registrations", str(o.registrations)),
        ("matches expected / found", f"{o.matches_expected} / {o.matches}"),
        ("lost (matches + webhooks)", str(o.lost)),
        ("doubled effects", str(o.doubled)),
        ("unexpected matches", str(o.unexpected)),
        (
            "webhooks expected / delivered distinct / dup",
            f"{o.webhooks_expected} / {o.webhooks_distinct} / {o.webhook_duplicates}",
        ),
        ("dead-lettered", str(o.dead_lettered)),
        ("dead notifications", str(o.dead)),
        ("time to recover (fault end -> drained)", recover),
        ("  of which until every match was there", matched),
    ]
    for label, value in rows:
        print(f"  {label:<46} {value}")
    for note in o.notes:
        print(f"  | {note}")


async def run(opts: Options, suite: Suite, server_url: str) -> list[sc.Outcome]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        port = free_port()
        receiver = await WebhookReceiver().start(port=port)
        try:
            r = sc.Run(
                suite,
                h.Api(session, suite.urls),
                receiver,
                server_url,
                generate(opts.seed, opts.enterprises, opts.participants),
                opts.rate,
                opts.drain_seconds,
                random.Random(opts.seed),
                receiver_port=port,
            )
            outcomes = [await sc.control(r)]
            print_outcome(outcomes[-1])
            for name in opts.scenarios:
                title, fault = faults(opts)[name]
                outcomes.append(await sc.scenario(r, title, fault))
                print_outcome(outcomes[-1])
            return outcomes
        finally:
            await receiver.stop()


def main(argv: list[str] | None = None) -> int:
    opts = parse_options(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    kafka_port, http_port = free_port_run(1, 41000, 50000), free_port_run(4)
    schedule = h.compressed_schedule(opts.compression)
    suite = Suite(
        opts.home,
        kafka_port,
        http_port,
        database_url=opts.database_url,
        db_prefix=DB_PREFIX,
        extra_env={"NOTIFICATION_RETRY_SCHEDULE": schedule},
    )
    print("Fault suite on make up (python -m deploy.local), public HTTP APIs only")
    print(f"  {opts.enterprises} registrations per scenario at {opts.rate:g}/s,")
    print(f"  {opts.participants} participants per road show, retry schedule {schedule}")
    try:
        if opts.database_url:  # an earlier run's outbox would be replayed into this one
            asyncio.run(drop_databases(opts.database_url))
        t = time.monotonic()
        suite.start(within_seconds=180)
        print(f"  suite ready in {time.monotonic() - t:.1f} s (state {opts.home})")
        server = opts.database_url or embedded_postgres_url(opts.home)
        if server is None:
            raise RuntimeError("no PostgreSQL server URL")
        outcomes = asyncio.run(run(opts, suite, server))
        failed = [o.scenario for o in outcomes if not o.ok]
        print(f"\n{len(outcomes) - len(failed)} of {len(outcomes)} scenarios ok")
        return 1 if failed else 0
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (RuntimeError, TimeoutError) as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 1
    finally:
        suite.stop()
        if opts.database_url:
            asyncio.run(drop_databases(opts.database_url))
        print(f"suite stopped (logs in {opts.home / 'logs'})")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
