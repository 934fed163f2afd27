"""`make demo`: the reference road show, end to end, on embedded defaults.

Brings the suite up if it is not up (and stops it again at the end), registers a
delegation of North American technology enterprises and the Shanghai companies,
funds and banks through two partner organisations, subscribes every bank with a
local receiver that verifies each webhook signature, waits for matching, runs
the meeting scheduler with progress, waits for the banks' notifications, then
prints a summary and writes the schedule as CSV and HTML.

    python -m demo [--enterprises 16] [--participants 64] [--seed 2019] [--out DIR]
                   [--registration URL --matching URL --notification URL] [--json]

Progress goes to stderr (bars only on a terminal); stdout holds the summary alone,
so `make demo DEMO_ARGS=--json | jq .` works.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from tqdm import tqdm

from demo.generator import HOST_PARK, ORGANISER, RoadshowData, generate
from demo.receiver import WebhookReceiver
from demo.schedule_page import render_schedule_html
from shared.terminal import EXIT_UNAVAILABLE, CommandFailed, finish, new_parser, run_command

BANK_EVENTS = [
    "match.proposed",
    "match.updated",
    "match.withdrawn",
    "meeting.scheduled",
    "meeting.cancelled",
]


@dataclass
class Urls:
    registration: str
    matching: str
    notification: str

    def all(self) -> list[str]:
        return [self.registration, self.matching, self.notification]


@dataclass
class Summary:
    enterprises: int = 0
    participants: int = 0
    banks: int = 0
    matches: int = 0
    meetings: int = 0
    interpreted_meetings: int = 0  # meetings that needed (and have) an interpreter
    expected_notifications: int = 0
    delivered: int = 0
    verified: int = 0
    duplicates_received: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    schedule_ratio: float | None = None
    csv_path: str = ""
    html_path: str = ""

    def as_dict(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {
            "enterprises": self.enterprises,
            "participants": self.participants,
            "banks": self.banks,
            "matches": self.matches,
            "meetings": self.meetings,
            "meetings_with_interpreter": self.interpreted_meetings,
            "notifications_expected": self.expected_notifications,
            "notifications_delivered": self.delivered,
            "notifications_verified": self.verified,
            "latency_registration_to_bank_ms": {
                "p50": round(_pct(lat, 50), 1) if lat else None,
                "p99": round(_pct(lat, 99), 1) if lat else None,
            },
            "schedule_score_vs_bound": self.schedule_ratio,
            "schedule_csv": self.csv_path,
            "schedule_html": self.html_path,
        }


def _pct(values: list[float], p: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _say(*parts: object) -> None:
    """What the demo is doing: on stderr, so stdout holds the summary alone."""
    print(*parts, file=sys.stderr, flush=True)


def _bar(label: str) -> tqdm[Any]:
    """A progress bar on stderr, drawn only on a terminal."""
    return tqdm(
        total=100,
        desc=f"{label:<26}",
        unit="%",
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
        leave=True,
        bar_format="{desc} {bar:30} {percentage:5.1f}% {elapsed}",
    )


def _set(bar: tqdm[Any], fraction: float) -> None:
    bar.update(round(100 * max(0.0, min(1.0, fraction)), 1) - bar.n)


class Demo:
    def __init__(
        self, urls: Urls, admin_token: str, data: RoadshowData, out: Path, wait_seconds: float
    ) -> None:
        self.urls = urls
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.data = data
        self.out = out
        self.wait = wait_seconds
        self.summary = Summary()
        self.receiver = WebhookReceiver()
        # What the run created, for callers that go on from there (tests, scripts).
        self.headers: dict[str, dict[str, str]] = {}
        self.roadshow_id = ""

    async def call(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        headers: dict[str, str],
        body: Any = None,
        ok: tuple[int, ...] = (200, 201, 202),
    ) -> Any:
        async with session.request(method, url, json=body, headers=headers) as resp:
            text = await resp.text()
            if resp.status not in ok:
                raise CommandFailed(f"{method} {url} -> {resp.status}: {text[:500]}")
            return json.loads(text) if text and resp.content_type.endswith("json") else text

    async def run(self, *, keep_receiver: bool = False) -> Summary:
        """Run the road show; with keep_receiver the webhook receiver stays up for
        what the caller does next (it then calls `receiver.stop()`)."""
        await self.receiver.start()
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s:
                return await self._run(s)
        finally:
            if not keep_receiver:
                await self.receiver.stop()

    async def _run(self, s: aiohttp.ClientSession) -> Summary:
        reg, mat, note = self.urls.registration, self.urls.matching, self.urls.notification
        organiser = await self.call(
            s, "POST", f"{reg}/admin/partners", self.admin, {"name": ORGANISER}
        )
        park = await self.call(s, "POST", f"{reg}/admin/partners", self.admin, {"name": HOST_PARK})
        a = {
            "Authorization": f"Bearer {organiser['api_key']}",
            "X-Correlation-ID": "demo-organiser",
        }
        b = {"Authorization": f"Bearer {park['api_key']}", "X-Correlation-ID": "demo-park"}
        self.headers = {"organiser": a, "park": b}
        _say(f"partners: {ORGANISER} (organiser, delegation), {HOST_PARK} (local participants)")

        roadshow = await self.call(s, "POST", f"{reg}/v1/roadshows", a, self.data.roadshow)
        rid = self.roadshow_id = roadshow["roadshow_id"]
        participants = []
        with _bar("registering participants") as bar:
            for i, p in enumerate(self.data.participants):
                participants.append(
                    await self.call(
                        s, "POST", f"{reg}/v1/participants", b, {**p, "roadshow_id": rid}
                    )
                )
                _set(bar, (i + 1) / len(self.data.participants))
        banks = [p for p in participants if p["kind"] == "bank"]
        # The partner key reaches notification as an event; wait until it is accepted there.
        await self._until(
            lambda: self._status(s, f"{note}/v1/subscriptions", b), "notification to know the key"
        )
        for bank in banks:
            sub = await self.call(
                s,
                "POST",
                f"{note}/v1/subscriptions",
                b,
                {
                    "url": f"{self.receiver.url}/hooks/{bank['participant_id']}",
                    "description": f"{bank['name']} deal flow",
                    "event_types": BANK_EVENTS,
                    "participant_ids": [bank["participant_id"]],
                },
            )
            self.receiver.secrets[bank["participant_id"]] = sub["secret"]
        _say(f"subscribed {len(banks)} banks to {self.receiver.url}/hooks/<bank>")

        registered_at = time.time()
        names: dict[str, str] = {}
        enterprises = self.data.delegation["enterprises"]
        for start in range(0, len(enterprises), 200):  # a delegation holds at most 200
            chunk = {
                **self.data.delegation,
                "enterprises": enterprises[start : start + 200],
                "roadshow_id": rid,
            }
            delegation = await self.call(s, "POST", f"{reg}/v1/delegations", a, chunk)
            names.update({e["enterprise_id"]: e["name"] for e in delegation["enterprises"]})
        _say(f"registered {len(names)} enterprises and {len(participants)} participants")

        # Matching: wait until every enterprise has been scored (its matches appear).
        async def matched() -> float:
            page = await self._matches(s, mat, rid, a)
            seen = {m["enterprise_id"] for m in page}
            self.summary.matches = len(page)
            return len(seen & set(names)) / len(names)

        await self._until_progress(matched, "matching")
        job = await self.call(s, "POST", f"{mat}/v1/roadshows/{rid}/schedule-jobs", a, {})

        async def scheduled() -> float:
            nonlocal job
            job = await self.call(s, "GET", f"{mat}/v1/schedule-jobs/{job['job_id']}", a)
            if job["status"] == "failed":
                raise CommandFailed(f"scheduling failed: {job.get('error')}")
            return 1.0 if job["status"] == "succeeded" else min(float(job["progress"]), 0.99)

        await self._until_progress(scheduled, "scheduling meetings")
        schedule = await self.call(s, "GET", f"{mat}/v1/roadshows/{rid}/schedule", a)
        live = [m for m in schedule["meetings"] if m["status"] == "scheduled"]
        bank_ids = {p["participant_id"] for p in banks}
        bank_matches = [
            m for m in await self._matches(s, mat, rid, a) if m["participant_id"] in bank_ids
        ]
        bank_meetings = [m for m in live if m["participant_id"] in bank_ids]
        self.summary.expected_notifications = len(bank_matches) + len(bank_meetings)

        async def notified() -> float:
            return min(
                1.0, len(self.receiver.unique()) / max(1, self.summary.expected_notifications)
            )

        await self._until_progress(notified, "bank notifications")

        csv_text = await self.call(s, "GET", f"{mat}/v1/roadshows/{rid}/schedule?format=csv", a)
        self.out.mkdir(parents=True, exist_ok=True)
        csv_path = self.out / "schedule.csv"
        csv_path.write_text(csv_text)
        html_path = self.out / "schedule.html"
        html_path.write_text(
            render_schedule_html(
                roadshow,
                names,
                {p["participant_id"]: (p["name"], p["kind"]) for p in participants},
                live,
            )
        )

        unique = self.receiver.unique()
        first_match = [r for r in unique.values() if r.body.get("type") == "match.proposed"]
        self.summary.enterprises = len(names)
        self.summary.participants = len(participants)
        self.summary.banks = len(banks)
        self.summary.meetings = len(live)
        self.summary.interpreted_meetings = sum(bool(m["interpreter_languages"]) for m in live)
        self.summary.delivered = len(unique)
        self.summary.verified = sum(1 for r in self.receiver.received if r.verified)
        self.summary.duplicates_received = len(self.receiver.received) - len(unique)
        self.summary.latencies_ms = [(r.at - registered_at) * 1000 for r in first_match]
        if job.get("upper_bound"):
            self.summary.schedule_ratio = round(
                float(job["total_score"]) / float(job["upper_bound"]), 4
            )
        self.summary.csv_path = str(csv_path)
        self.summary.html_path = str(html_path)
        return self.summary

    async def _matches(
        self, s: aiohttp.ClientSession, mat: str, rid: str, h: dict[str, str]
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            q = "?limit=500" + (f"&cursor={cursor}" if cursor else "")
            page = await self.call(s, "GET", f"{mat}/v1/roadshows/{rid}/matches{q}", h)
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    async def _status(self, s: aiohttp.ClientSession, url: str, h: dict[str, str]) -> bool:
        async with s.get(url, headers=h) as resp:
            return resp.status == 200

    async def _until(self, probe: Any, what: str) -> None:
        deadline = time.monotonic() + self.wait
        while not await probe():
            if time.monotonic() > deadline:
                raise CommandFailed(f"waited {self.wait:g} s for {what}")
            await asyncio.sleep(0.2)

    async def _until_progress(self, probe: Any, label: str) -> None:
        deadline = time.monotonic() + self.wait
        with _bar(label) as bar:
            while True:
                fraction = await probe()
                _set(bar, fraction)
                if fraction >= 1:
                    return
                if time.monotonic() > deadline:
                    raise CommandFailed(f"waited {self.wait:g} s for {label} ({fraction:.0%})")
                await asyncio.sleep(0.25)


def _start_suite(home: Path, env_overrides: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ROADSHOW_HOME": str(home), **env_overrides}
    process = subprocess.Popen(
        [sys.executable, "-m", "deploy.local"],
        env=env,
        stdout=sys.stderr,  # its lines are narrative too: stdout is the summary's
        start_new_session=True,
    )
    return process


PROG = "python -m demo"


def main(argv: list[str] | None = None) -> int:
    parser = new_parser(PROG, __doc__)
    parser.add_argument("--enterprises", type=int, default=16, help="delegation size")
    parser.add_argument(
        "--participants", type=int, default=64, help="local companies, funds and banks"
    )
    parser.add_argument("--seed", type=int, default=2019, help="the generator's seed")
    parser.add_argument(
        "--home",
        default=os.environ.get("ROADSHOW_HOME", ".roadshow"),
        help="the suite's state folder (ROADSHOW_HOME; default .roadshow)",
    )
    parser.add_argument(
        "--out", default=None, help="where the schedule files go (default <home>/demo)"
    )
    parser.add_argument(
        "--registration", default=None, help="URL of a running registration service"
    )
    parser.add_argument("--matching", default=None, help="URL of a running matching service")
    parser.add_argument(
        "--notification", default=None, help="URL of a running notification service"
    )
    parser.add_argument("--console", default=None, help="URL of the console (make up starts it)")
    parser.add_argument("--wait", type=float, default=180, help="seconds to wait for each stage")
    parser.add_argument(
        "--json", action="store_true", help="print the summary as JSON only (progress: stderr)"
    )
    finish(parser)
    args = parser.parse_args(argv)
    if args.enterprises < 1 or args.participants < 1:
        parser.error("--enterprises and --participants must be at least 1")
    home = Path(args.home).resolve()
    first = int(os.environ.get("ROADSHOW_HTTP_PORT", "8081"))
    urls = Urls(
        args.registration or f"http://127.0.0.1:{first}",
        args.matching or f"http://127.0.0.1:{first + 1}",
        args.notification or f"http://127.0.0.1:{first + 2}",
    )
    suite: subprocess.Popen[bytes] | None = None
    given = [u for u in (args.registration, args.matching, args.notification) if u]
    if given and not all(_ready(u) for u in urls.all()):
        down = [u for u in urls.all() if not _ready(u)]
        raise CommandFailed(f"not answering on /readyz: {', '.join(down)}", EXIT_UNAVAILABLE)
    if not all(_ready(u) for u in urls.all()):
        _say("the suite is not up: starting it (make up) ...")
        suite = _start_suite(home, {})
        deadline = time.monotonic() + 120
        while not all(_ready(u) for u in urls.all()):
            if suite.poll() is not None or time.monotonic() > deadline:
                raise CommandFailed(f"the suite did not come up; see {home / 'logs'}")
            time.sleep(0.5)
    token_file = home / "admin-token"
    token = os.environ.get("ROADSHOW_ADMIN_TOKEN") or (
        token_file.read_text().strip() if token_file.exists() else ""
    )
    if not token:
        raise CommandFailed(f"no operator token: set ROADSHOW_ADMIN_TOKEN or create {token_file}")
    data = generate(args.seed, args.enterprises, args.participants)
    demo = Demo(urls, token, data, Path(args.out) if args.out else home / "demo", args.wait)
    try:
        summary = asyncio.run(demo.run()).as_dict()
    finally:
        if suite is not None:
            suite.send_signal(signal.SIGINT)
            suite.wait(60)
    console = args.console or f"http://127.0.0.1:{first + 3}"
    summary["console_page"] = f"{console}/roadshows/{demo.roadshow_id}"
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print("\nsummary")
        for key, value in summary.items():
            print(f"  {key:<34} {value}")
        print(f"\nopen {summary['schedule_html']} in a browser for the meeting grid")
        note = (
            ""
            if suite is None
            else " (while `make up` runs; this demo stopped the suite it started)"
        )
        print(f"console page of this road show: {summary['console_page']}{note}")
    ok = summary["notifications_delivered"] >= summary["notifications_expected"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(run_command(PROG, main))
