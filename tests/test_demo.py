"""The demo at a small size, on the real broker and databases: the suite comes
up through `deploy.local` (its own broker, databases on the test server), and the
summary's counts agree with the services' databases and the receiver's records."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

from demo.__main__ import Demo, Urls, _ready
from demo.generator import generate
from shared.embedded import database_url, drop_database, free_port
from shared.testing.waiting import eventually


async def test_demo_summary_matches_the_databases(pg_server_url: str, tmp_path: Path) -> None:
    prefix = f"roadshow_demo_{uuid.uuid4().hex[:8]}_"
    first = free_port()
    while not all(_free(first + i) for i in range(3)):
        first = free_port()
    env = {
        **os.environ,
        "ROADSHOW_HOME": str(tmp_path),
        "ROADSHOW_DATABASE_URL": pg_server_url,
        "ROADSHOW_DB_PREFIX": prefix,
        "ROADSHOW_KAFKA_PORT": str(free_port()),
        "ROADSHOW_HTTP_PORT": str(first),
    }
    suite = subprocess.Popen(
        [sys.executable, "-m", "deploy.local"],
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    urls = Urls(*(f"http://127.0.0.1:{first + i}" for i in range(3)))
    try:

        async def up() -> bool:
            assert suite.poll() is None, "the suite exited"
            return all(_ready(u) for u in urls.all())

        await eventually(up, within=90, interval=0.3, what="the suite to come up")
        token = (tmp_path / "admin-token").read_text().strip()
        data = generate(seed=11, enterprises=5, participants=14)
        demo = Demo(urls, token, data, tmp_path / "out", 120)
        summary = await demo.run()
        dbs = {
            name: database_url(pg_server_url, prefix + name)
            for name in ("registration", "matching", "notification")
        }
        reg = await asyncpg.connect(dbs["registration"])
        mat = await asyncpg.connect(dbs["matching"])
        note = await asyncpg.connect(dbs["notification"])
        try:
            assert (
                summary.enterprises == 5 == await reg.fetchval("SELECT count(*) FROM enterprises")
            )
            assert (
                summary.participants
                == 14
                == await reg.fetchval("SELECT count(*) FROM participants")
            )
            assert summary.matches == await mat.fetchval(
                "SELECT count(*) FROM matches WHERE status = 'proposed'"
            )
            assert summary.meetings == await mat.fetchval(
                "SELECT count(*) FROM meetings WHERE status = 'scheduled'"
            )
            assert summary.meetings > 0 and summary.banks > 0

            # The receiver answers before the worker records the outcome: wait for it.
            async def recorded() -> int:
                n: int = await note.fetchval(
                    "SELECT count(*) FROM notifications"
                    " WHERE channel = 'webhook' AND status = 'delivered'"
                )
                return n if n >= summary.expected_notifications else 0

            delivered = await eventually(recorded, within=30, what="deliveries to be recorded")
        finally:
            for conn in (reg, mat, note):
                await conn.close()
        # Every expected notification arrived exactly once (by webhook-id), verified.
        unique = demo.receiver.unique()
        assert len(unique) == summary.expected_notifications == delivered
        assert all(r.verified for r in demo.receiver.received)
        assert summary.delivered == summary.verified == len(unique)
        assert len(summary.latencies_ms) > 0
        html = Path(summary.html_path).read_text()
        assert html.count("class=meeting") == summary.meetings
        assert Path(summary.csv_path).read_text().count("\n") == summary.meetings + 1
        # The three services' own JSON logs name no person of the run.
        people = [e["president"] for e in data.delegation["enterprises"]] + [
            p["contact"] for p in data.participants
        ]
        logs = "".join(f.read_text() for f in (tmp_path / "logs").glob("*.jsonl"))
        assert '"service": "matching"' in logs and '"service": "notification"' in logs
        for person in people:
            for value in (person["name"], person["email"], person["phone"]):
                assert value not in logs
    finally:
        suite.send_signal(signal.SIGINT)
        try:
            suite.wait(60)
        except subprocess.TimeoutExpired:
            suite.kill()
        for name in ("registration", "matching", "notification"):
            await drop_database(pg_server_url, prefix + name)


def _free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
