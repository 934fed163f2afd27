"""The demo at a small size, on the real broker and databases: the suite comes
up through `deploy.local` (its own broker, databases on the test server), and the
summary's counts agree with the services' databases and the receiver's records."""

from __future__ import annotations

import asyncio
import email
import email.message
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from demo.__main__ import Demo, Urls, _ready
from demo.generator import RoadshowData, generate
from shared.embedded import database_url, drop_database, free_port
from shared.testing.waiting import eventually
from tests.helpers.tools import require_tool


@pytest.mark.timeout(300)  # two demo runs: the in-process one, then the command with --json
async def test_demo_summary_matches_the_databases(pg_server_url: str, tmp_path: Path) -> None:
    prefix = f"roadshow_demo_{uuid.uuid4().hex[:8]}_"
    first = free_port()
    while not all(_free(first + i) for i in range(4)):  # the console takes the fourth
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
    demo: Demo | None = None
    try:

        async def up() -> bool:
            assert suite.poll() is None, "the suite exited"
            return all(_ready(u) for u in urls.all())

        await eventually(up, within=90, interval=0.3, what="the suite to come up")
        token = (tmp_path / "admin-token").read_text().strip()
        data = generate(seed=11, enterprises=5, participants=14)
        demo = Demo(urls, token, data, tmp_path / "out", 120)
        summary = await demo.run(keep_receiver=True)
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
            assert summary.interpreted_meetings == await mat.fetchval(
                "SELECT count(*) FROM meetings WHERE status = 'scheduled'"
                " AND interpreter_languages <> '{}'"
            )

            # The receiver answers before the worker records the outcome: wait for it.
            async def recorded() -> int:
                n: int = await note.fetchval(
                    "SELECT count(*) FROM notifications"
                    " WHERE channel = 'webhook' AND status = 'delivered'"
                )
                return n if n >= summary.expected_notifications else 0

            delivered = await eventually(recorded, within=30, what="deliveries to be recorded")
            await _one_flow_everywhere("demo-organiser", (reg, mat, note), tmp_path / "logs")
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
        await _decline_after_publication(demo, urls, tmp_path / "mail", data)
        # The three services' own JSON logs name no person of the run.
        people = [e["president"] for e in data.delegation["enterprises"]] + [
            p["contact"] for p in data.participants
        ]
        logs = "".join(f.read_text() for f in (tmp_path / "logs").glob("*.jsonl"))
        assert '"service": "matching"' in logs and '"service": "notification"' in logs
        for person in people:
            for value in (person["name"], person["email"], person["phone"]):
                assert value not in logs
        await _the_command_with_json_prints_json_alone(urls, token, tmp_path)
        await _the_readme_journey_runs(urls, tmp_path)
    finally:
        if demo is not None:
            await demo.receiver.stop()
        suite.send_signal(signal.SIGINT)
        try:
            suite.wait(60)
        except subprocess.TimeoutExpired:
            suite.kill()
        for name in ("registration", "matching", "notification"):
            await drop_database(pg_server_url, prefix + name)


async def _the_command_with_json_prints_json_alone(urls: Urls, token: str, home: Path) -> None:
    """`make demo DEMO_ARGS=--json | jq`: the real command, a second small road show
    on the running suite; stdout is one JSON document, the narrative went to stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "demo",
        "--json",
        # The first run's size and seed: every enterprise is known to find matches.
        *("--enterprises", "5", "--participants", "14", "--seed", "11", "--wait", "60"),
        *("--registration", urls.registration, "--matching", urls.matching),
        *("--notification", urls.notification, "--home", str(home), "--out", str(home / "j")),
        env={**os.environ, "ROADSHOW_ADMIN_TOKEN": token},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()[-2000:]
    summary = json.loads(out)  # the whole of stdout
    assert summary["enterprises"] == 5 and summary["participants"] == 14
    assert b"registered 5 enterprises" in err and b"\r" not in err  # no bars off a terminal


async def _the_readme_journey_runs(urls: Urls, home: Path) -> None:
    """The README's "Try it" block, as written, from partners to the schedule CSV."""
    require_tool("jq", "jq")
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("## Try it", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    process = await asyncio.create_subprocess_exec(
        require_tool("bash", "bash"),
        "-euo",
        "pipefail",
        "-c",
        block,
        env={
            **os.environ,
            "REG": urls.registration,
            "MAT": urls.matching,
            "ROADSHOW_HOME": str(home),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, (out + err).decode()[-2000:]
    csv_lines = out.decode().strip().splitlines()
    header = csv_lines.index(next(x for x in csv_lines if x.startswith("slot,starts_at")))
    assert len(csv_lines) - header - 1 >= 2  # meetings scheduled for both enterprises


async def _one_flow_everywhere(
    flow: str, dbs: tuple[asyncpg.Connection, asyncpg.Connection, asyncpg.Connection], logs: Path
) -> None:
    """Tracing: the organiser's requests (X-Correlation-ID `flow`) are found by that one
    id in every service: the request, the events each service wrote, the consumers
    that handled them, the webhooks and their attempts."""
    reg, mat, note = dbs

    def events(conn: asyncpg.Connection, type_: str) -> Any:
        return conn.fetchval(
            "SELECT count(*) FROM outbox WHERE event_type = $1 AND payload->>'correlation_id' = $2",
            type_,
            flow,
        )

    assert await events(reg, "enterprise.registered") == 5
    assert await events(mat, "matches.changed") > 0
    hooks = await note.fetchval(
        "SELECT count(*) FROM notifications n JOIN delivery_attempts a"
        " ON a.notification_id = n.id WHERE n.channel = 'webhook' AND n.correlation_id = $1",
        flow,
    )
    assert hooks > 0
    lines = [
        json.loads(line)
        for f in logs.glob("*.jsonl")
        for line in f.read_text().splitlines()
        if flow in line
    ]
    requests = [x for x in lines if x.get("event") == "http.request"]
    assert any(x["route"] == "/v1/delegations" and x["service"] == "registration" for x in requests)
    handled = {x["service"] for x in lines if x.get("event") == "consumer.handled"}
    assert {"matching", "notification"} <= handled


def _free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


async def _decline_after_publication(
    demo: Demo, urls: Urls, maildir: Path, data: RoadshowData
) -> None:
    """Issue 5 across the services: everyone with meetings gets one schedule
    e-mail; a bank's decline after publication cancels that meeting only, and both
    sides hear of it (e-mail) as do the bank's webhook subscribers."""
    organiser, park = demo.headers["organiser"], demo.headers["park"]
    async with aiohttp.ClientSession() as s:
        async with s.get(
            f"{urls.matching}/v1/roadshows/{demo.roadshow_id}/schedule", headers=organiser
        ) as r:
            before = {
                m["meeting_id"]: m
                for m in (await r.json())["meetings"]
                if m["status"] == "scheduled"
            }
        parties = {m["enterprise_id"] for m in before.values()} | {
            m["participant_id"] for m in before.values()
        }

        def messages(kind: str) -> list[email.message.Message]:
            found = []
            for path in (maildir / "new").glob("*"):
                msg = email.message_from_bytes(path.read_bytes())
                if msg["X-Roadshow-Message"] == kind:
                    found.append(msg)
            return found

        async def schedules_sent() -> list[email.message.Message]:
            sent = messages("schedule")
            return sent if len(sent) >= len(parties) else []

        sent = await eventually(
            schedules_sent, within=60, what="a schedule e-mail to everyone with meetings"
        )
        recipients = [m["X-RcptTo"] for m in sent]
        assert len(recipients) == len(set(recipients)) == len(parties)  # exactly one each

        bank_ids = {
            p["participant_id"] for p in await _participants(s, urls, park) if p["kind"] == "bank"
        }
        meeting = next(m for m in before.values() if m["participant_id"] in bank_ids)
        async with s.put(
            f"{urls.matching}/v1/matches/{meeting['match_id']}/interest",
            json={"side": "participant", "interest": "decline"},
            headers=park,
        ) as r:
            assert r.status == 200, await r.text()

        async def cancelled_hook() -> bool:
            return any(
                r.body.get("type") == "meeting.cancelled"
                and r.body["data"]["meeting"]["meeting_id"] == meeting["meeting_id"]
                for r in demo.receiver.unique().values()
            )

        await eventually(cancelled_hook, within=60, what="the bank's webhook of the cancellation")
        notices = await eventually(
            lambda: _at_least(lambda: messages("cancelled"), 2),
            within=60,
            what="two cancellation e-mails",
        )
        assert len(notices) == 2  # the president and the bank's contact, nobody else
        async with s.get(
            f"{urls.matching}/v1/roadshows/{demo.roadshow_id}/schedule", headers=organiser
        ) as r:
            after = {
                m["meeting_id"]: m
                for m in (await r.json())["meetings"]
                if m["status"] == "scheduled"
            }
        assert meeting["meeting_id"] not in after
        for mid, m in after.items():  # every other meeting stays where it was
            assert (m["slot"], m["table"]) == (before[mid]["slot"], before[mid]["table"])
        assert set(after) == set(before) - {meeting["meeting_id"]}
    assert data.participants


async def _participants(
    s: aiohttp.ClientSession, urls: Urls, headers: dict[str, str]
) -> list[dict[str, Any]]:
    async with s.get(f"{urls.registration}/v1/participants?limit=500", headers=headers) as r:
        items: list[dict[str, Any]] = (await r.json())["items"]
        return items


async def _at_least(probe: Any, n: int) -> Any:
    found = probe()
    return found if len(found) >= n else None
