"""The organisers' console in a real browser (Debian's chromium through Playwright),
against the real suite: one `deploy.local` start (on the test PostgreSQL server) and
one small demo road show shared by every test here. Screenshots of each page go to
the test run's log folder (test-logs/run-<pid>/console)."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from demo.__main__ import Demo, Urls
from demo.generator import generate
from services.console.dashboard import slot_starts
from shared.embedded import database_url, drop_database, free_port
from shared.testing.plugin import LOG_DIR
from shared.testing.suite import ROOT, Suite, free_port_run
from shared.testing.waiting import eventually

SHOTS = LOG_DIR / "console"
AXE = ROOT / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SERVICES = ("registration", "matching", "notification")


@dataclass(frozen=True)
class Console:
    url: str
    urls: Urls
    organiser_key: str
    park_key: str
    roadshow_id: str
    dbs: dict[str, str]
    log_file: Path
    demo: Demo

    async def api(self, key: str, url: str) -> Any:
        headers = {"Authorization": f"Bearer {key}"}
        async with aiohttp.ClientSession() as s, s.get(url, headers=headers) as resp:
            return {"status": resp.status, "body": await resp.json(content_type=None)}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def console(
    pg_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Console]:
    prefix = f"roadshow_console_{uuid.uuid4().hex[:8]}_"
    home = tmp_path_factory.mktemp("console") / "suite"
    suite = Suite(
        home=home,
        kafka_port=free_port(),
        first_port=free_port_run(4),
        database_url=pg_server_url,
        db_prefix=prefix,
    )
    demo: Demo | None = None
    try:
        await asyncio.to_thread(suite.start, 120)
        urls = Urls(*suite.urls.by_service().values())
        demo = Demo(urls, suite.admin_token(), generate(11, 5, 14), home / "demo", 120)
        await demo.run(keep_receiver=True)  # the banks' webhooks, for the publish test
        yield Console(
            url=suite.console_url,
            urls=urls,
            organiser_key=demo.headers["organiser"]["Authorization"].removeprefix("Bearer "),
            park_key=demo.headers["park"]["Authorization"].removeprefix("Bearer "),
            roadshow_id=demo.roadshow_id,
            dbs={n: database_url(pg_server_url, prefix + n) for n in SERVICES},
            log_file=home / "logs" / "console.jsonl",
            demo=demo,
        )
    finally:
        if demo is not None:
            await demo.receiver.stop()
        await asyncio.to_thread(suite.stop)
        for name in SERVICES:
            await drop_database(pg_server_url, prefix + name)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is required (Debian package 'chromium'; make test installs it)"
    async with async_playwright() as p:
        b = await p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        yield b
        await b.close()


async def _page(browser: Browser, locale: str = "en-GB") -> Page:
    context = await browser.new_context(locale=locale, timezone_id="Europe/London")
    return await context.new_page()


async def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def _sign_in(page: Page, console: Console, key: str) -> None:
    await page.goto(f"{console.url}/sign-in")
    await page.get_by_label("Partner API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{console.url}/roadshows")


async def _count(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def test_sign_in_and_the_dashboard_shows_the_apis_figures(
    console: Console, browser: Browser
) -> None:
    page = await _page(browser)
    await page.goto(f"{console.url}/sign-in")
    await page.get_by_label("Partner API key").fill("not-a-key")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_have_text("That API key was not accepted.")
    await _shot(page, "sign-in-refused")

    await _sign_in(page, console, console.organiser_key)
    cookies = await page.context.cookies()
    session = next(c for c in cookies if c["name"] == "roadshow_console")
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert console.organiser_key not in session["value"]  # encrypted, not merely encoded
    rid = console.roadshow_id
    await page.goto(f"{console.url}/roadshows/{rid}")
    figures = (
        await console.api(
            console.organiser_key, f"{console.urls.matching}/v1/roadshows/{rid}/figures"
        )
    )["body"]
    for name, key in (("matches", "matches"), ("accepted", "accepted"), ("scheduled", "scheduled")):
        await expect(page.locator(f"#kpi-{name}")).to_have_text(str(figures[key]))
    roadshow = (
        await console.api(console.organiser_key, f"{console.urls.registration}/v1/roadshows/{rid}")
    )["body"]
    await expect(page.locator("#cap-tables")).to_have_text(str(roadshow["tables"]))
    await expect(page.locator("svg.chart")).to_have_count(3)
    html = await page.content()
    assert console.organiser_key not in html and console.organiser_key not in page.url
    csp = (await page.request.get(page.url)).headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    await _shot(page, "dashboard")

    # A registration while the page is open: its figures follow without a reload.
    figures_url = f"{console.urls.matching}/v1/roadshows/{rid}/figures"
    matches = (
        await console.api(
            console.organiser_key, f"{console.urls.matching}/v1/roadshows/{rid}/matches?limit=500"
        )
    )["body"]["items"]
    busiest = max(
        {m["participant_name"] for m in matches},
        key=lambda n: sum(m["participant_name"] == n for m in matches),
    )
    twin = next(p for p in console.demo.data.participants if p["name"] == busiest)
    body = {**twin, "name": f"{busiest} II", "roadshow_id": rid}
    async with aiohttp.ClientSession() as s:
        headers = {"Authorization": f"Bearer {console.park_key}"}
        async with s.post(
            f"{console.urls.registration}/v1/participants", json=body, headers=headers
        ) as r:
            assert r.status == 201, await r.text()

    async def grown() -> bool:
        now = (await console.api(console.organiser_key, figures_url))["body"]["matches"]
        return bool(now > figures["matches"])

    await eventually(grown, within=30, interval=0.3, what="the new participant's matches")
    latest = (await console.api(console.organiser_key, figures_url))["body"]["matches"]
    await expect(page.locator("#kpi-matches")).to_have_text(str(latest), timeout=30_000)

    await page.get_by_label("Language").select_option("zh")
    await page.get_by_role("button", name="Switch").click()
    await expect(page.locator("#capacity-h")).to_have_text("容量")
    assert await page.locator("html").get_attribute("lang") == "zh-Hans"
    await _shot(page, "dashboard-zh")
    await page.get_by_role("button", name="退出登录").click()
    await expect(page).to_have_url(f"{console.url}/sign-in")
    await expect(page.get_by_role("heading", level=1)).to_have_text("登录")  # the choice stays
    await page.context.close()


async def test_a_chinese_browser_gets_chinese_pages(console: Console, browser: Browser) -> None:
    page = await _page(browser, locale="zh-CN")
    await page.goto(f"{console.url}/sign-in")
    await expect(page.get_by_role("heading", level=1)).to_have_text("登录")
    await page.context.close()


async def test_scheduling_refuses_bad_input_then_runs_and_fills_the_grid(
    console: Console, browser: Browser
) -> None:
    page = await _page(browser)
    await _sign_in(page, console, console.organiser_key)
    rid = console.roadshow_id
    jobs = "SELECT count(*) FROM scheduling_jobs"
    before = await _count(console.dbs["matching"], jobs)
    await page.goto(f"{console.url}/roadshows/{rid}/schedule")
    await page.get_by_label("Fair minimum per enterprise").fill("lots")
    await page.get_by_role("button", name="Start scheduling").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "Fair minimum: a whole number from 0 to 48."
    )
    await expect(page.get_by_label("Fair minimum per enterprise")).to_have_value("lots")
    await _shot(page, "schedule-bad-input")
    assert await _count(console.dbs["matching"], jobs) == before  # nothing was written

    await page.get_by_label("Fair minimum per enterprise").fill("2")
    await page.get_by_role("button", name="Start scheduling").click()
    await expect(page.locator("#job-status")).to_have_text("Done", timeout=60_000)
    assert await page.locator("#job-progress").evaluate("p => p.value") == 1
    # The solver proved this small road show's schedule optimal, and the page says so.
    await expect(page.locator("#job-proven")).to_have_text("· proven optimal")
    assert await _count(console.dbs["matching"], jobs) == before + 1
    await _shot(page, "job-done")
    await page.get_by_role("link", name="See the grid").click()

    schedule = (
        await console.api(
            console.organiser_key, f"{console.urls.matching}/v1/roadshows/{rid}/schedule"
        )
    )["body"]
    live = [m for m in schedule["meetings"] if m["status"] == "scheduled"]
    assert live
    grid = page.locator("#grid")
    await expect(grid.locator("tbody tr")).to_have_count(len({m["enterprise_id"] for m in live}))
    await expect(grid.locator("tbody td .who")).to_have_count(len(live))
    first = live[0]
    row = grid.locator("tbody tr", has_text=first["enterprise_name"])
    await expect(row).to_contain_text(first["participant_name"])
    await _shot(page, "grid")
    csv = await page.request.get(f"{console.url}/roadshows/{rid}/schedule.csv")
    assert csv.ok and len((await csv.text()).strip().splitlines()) == len(live) + 1
    await page.context.close()


def _free(
    meetings: list[dict[str, Any]], e: str, p: str, slots: int, tables: int
) -> tuple[int, int] | None:
    """A slot where neither party meets and a table is free (None: none)."""
    live = [m for m in meetings if m["status"] == "scheduled"]
    for slot in range(slots):
        here = [m for m in live if m["slot"] == slot]
        if any(m["enterprise_id"] == e or m["participant_id"] == p for m in here):
            continue
        free = set(range(1, tables + 1)) - {m["table"] for m in here}
        if free:
            return slot, min(free)
    return None


async def _run_provisional(page: Page, console: Console) -> None:
    await page.goto(f"{console.url}/roadshows/{console.roadshow_id}/schedule")
    await page.get_by_label("Fair minimum per enterprise").fill("1")
    await page.get_by_label("Keep the result provisional").check()
    await page.get_by_role("button", name="Start scheduling").click()
    await expect(page.locator("#job-status")).to_have_text("Done", timeout=60_000)
    await page.get_by_role("link", name="See the grid").click()


async def test_a_provisional_schedule_is_locked_moved_added_to_rerun_and_published(
    console: Console, browser: Browser
) -> None:
    rid, key = console.roadshow_id, console.organiser_key
    schedule_url = f"{console.urls.matching}/v1/roadshows/{rid}/schedule"
    roadshow = (await console.api(key, f"{console.urls.registration}/v1/roadshows/{rid}"))["body"]
    tables = roadshow["tables"]
    slots = len(slot_starts(roadshow))
    page = await _page(browser)
    await _sign_in(page, console, key)
    await _run_provisional(page, console)  # it keeps the published meetings where they are

    meetings = (await console.api(key, schedule_url))["body"]["meetings"]
    locked, moving = meetings[0], meetings[1]
    row = page.locator(f"#meeting-{locked['meeting_id']}")
    await row.locator("form[action$='/lock'] button").click()
    await expect(page.get_by_role("status").first).to_have_text("Meeting locked.")
    await expect(page.locator(f"#meeting-{locked['meeting_id']} .state")).to_contain_text("locked")

    # A conflict is refused with its reason, on the page; nothing moves.
    row = page.locator(f"#meeting-{moving['meeting_id']}")
    await row.get_by_label("Slot").select_option(str(locked["slot"]))
    await row.get_by_label("Table").fill(str(locked["table"]))
    await row.get_by_role("button", name="Move").click()
    await expect(page.get_by_role("status").first).to_contain_text("Refused (")
    await _shot(page, "provisional-refused")
    now = {m["meeting_id"]: m for m in (await console.api(key, schedule_url))["body"]["meetings"]}
    assert (now[moving["meeting_id"]]["slot"], now[moving["meeting_id"]]["table"]) == (
        moving["slot"],
        moving["table"],
    )
    place = _free(
        list(now.values()), moving["enterprise_id"], moving["participant_id"], slots, tables
    )
    assert place is not None
    row = page.locator(f"#meeting-{moving['meeting_id']}")
    await row.get_by_label("Slot").select_option(str(place[0]))
    await row.get_by_label("Table").fill(str(place[1]))
    await row.get_by_role("button", name="Move").click()
    await expect(page.get_by_role("status").first).to_have_text("Meeting moved.")
    await expect(page.locator("#pending-changes")).to_contain_text("1 meeting changed")

    # A cancellation by hand, then a meeting by hand for that pair in another free place.
    cancelled = meetings[2]
    row = page.locator(f"#meeting-{cancelled['meeting_id']}")
    await row.locator("form[action$='/cancel'] button").click()
    await expect(page.get_by_role("status").first).to_have_text("Meeting cancelled.")
    await expect(page.locator(f"#meeting-{cancelled['meeting_id']}")).to_have_count(0)
    now_list = (await console.api(key, schedule_url))["body"]["meetings"]
    spot = _free(now_list, cancelled["enterprise_id"], cancelled["participant_id"], slots, tables)
    assert spot is not None
    match = {"match_id": cancelled["match_id"]}
    await page.locator("#add-match").select_option(match["match_id"])
    await page.locator("#add-slot").select_option(str(spot[0]))
    await page.locator("#add-table").fill(str(spot[1]))
    await page.get_by_role("button", name="Add the meeting").click()
    await expect(page.get_by_role("status").first).to_have_text("Meeting added.")
    await _shot(page, "provisional-edited")

    # A provisional re-run keeps the locked meeting where it was.
    await _run_provisional(page, console)
    after = {m["meeting_id"]: m for m in (await console.api(key, schedule_url))["body"]["meetings"]}
    assert (after[locked["meeting_id"]]["slot"], after[locked["meeting_id"]]["table"]) == (
        locked["slot"],
        locked["table"],
    )
    assert after[locked["meeting_id"]]["locked"]
    assert match["match_id"] in {m["match_id"] for m in after.values()}

    await page.get_by_role("button", name="Publish the schedule").click()
    await expect(page.get_by_role("status").first).to_contain_text("Schedule published")
    published = (await console.api(key, schedule_url))["body"]
    assert published["pending_changes"] == 0
    await expect(page.locator("#pending-changes")).to_have_count(0)
    added = next(m for m in published["meetings"] if m["match_id"] == match["match_id"])
    grid_row = page.locator("#grid tbody tr", has_text=added["enterprise_name"])
    await expect(grid_row).to_contain_text(added["participant_name"])
    await _shot(page, "provisional-published")
    # Printed, the grid is an itinerary: no navigation, no forms.
    await page.emulate_media(media="print")
    await expect(page.locator("#grid")).to_be_visible()
    await expect(page.locator("header.top")).to_be_hidden()
    await expect(page.locator("#review")).to_be_hidden()
    await page.emulate_media(media="screen")

    # The banks' webhooks got the published schedule (its id is new since the re-run).
    receiver = console.demo.receiver

    async def bank_told() -> bool:
        return any(
            r.body.get("type") == "meeting.scheduled"
            and r.body["data"]["meeting"]["schedule_id"] == published["schedule_id"]
            for r in receiver.unique().values()
        )

    await eventually(bank_told, within=30, interval=0.3, what="a bank's webhook of the schedule")
    await page.context.close()


async def test_a_partner_answers_for_its_own_party_and_another_partners_ids_are_404(
    console: Console, browser: Browser
) -> None:
    rid = console.roadshow_id
    participants = (
        await console.api(
            console.park_key, f"{console.urls.registration}/v1/participants?roadshow_id={rid}"
        )
    )["body"]["items"]
    for candidate in participants:  # one with matches, to answer one of them
        url = f"{console.urls.matching}/v1/participants/{candidate['participant_id']}/matches"
        if (await console.api(console.park_key, url))["body"]["items"]:
            break
    participants = [candidate]
    mine = candidate["participant_id"]
    enterprises = (
        await console.api(
            console.organiser_key,
            f"{console.urls.registration}/v1/enterprises?roadshow_id={rid}&limit=1",
        )
    )["body"]["items"]
    theirs = enterprises[0]["enterprise_id"]
    page = await _page(browser)
    await _sign_in(page, console, console.park_key)

    name = participants[0]["name"]
    await page.goto(f"{console.url}/roadshows/{rid}/registrations")
    everyone = await page.locator("#registrations tbody tr").count()
    await page.get_by_label("Search").fill(name)
    await page.get_by_role("button", name="Filter").click()
    rows = page.locator("#registrations tbody tr")
    await expect(rows.first).to_contain_text(name)
    shown = await rows.all_inner_texts()
    assert 0 < len(shown) < everyone and all(name in r for r in shown)
    await page.get_by_role("link", name=name, exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(participants[0]["name"])
    first_match = page.locator("#matches tbody tr").first
    await first_match.get_by_role("button", name="Accept").click()
    await expect(page.get_by_role("status").first).to_have_text("Answer recorded.")
    await _shot(page, "party")
    matches = (
        await console.api(
            console.park_key, f"{console.urls.matching}/v1/participants/{mine}/matches"
        )
    )["body"]["items"]
    assert any(m["participant_interest"] == "accept" for m in matches)

    # Its deliveries: each bank subscription with the counts notification reports.
    subs = (await console.api(console.park_key, f"{console.urls.notification}/v1/subscriptions"))[
        "body"
    ]["items"]
    await page.goto(f"{console.url}/deliveries")
    await expect(page.locator("section.subscription")).to_have_count(len(subs))
    sid = subs[0]["subscription_id"]
    url = f"{console.urls.notification}/v1/subscriptions/{sid}/notifications?limit=500"
    section = page.locator("section.subscription", has=page.locator(f"#sub-{sid}"))

    async def page_agrees_with_the_api() -> bool:
        # Deliveries of the re-run's meetings may still be under way: read both again.
        items = (await console.api(console.park_key, url))["body"]["items"]
        await page.reload()
        shown = await section.locator(".count-delivered").inner_text()
        return shown == str(sum(1 for n in items if n["status"] == "delivered"))

    await eventually(page_agrees_with_the_api, within=30, interval=0.5, what="delivered counts")
    await _shot(page, "deliveries")

    for path, api in (
        (f"/roadshows/{rid}", f"{console.urls.matching}/v1/roadshows/{rid}/matches"),
        (
            f"/parties/enterprise/{theirs}",
            f"{console.urls.matching}/v1/enterprises/{theirs}/matches",
        ),
    ):
        assert (await console.api(console.park_key, api))["status"] == 404
        resp = await page.goto(f"{console.url}{path}")
        assert resp is not None and resp.status == 404
        await expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    await page.context.close()


async def test_keyboard_only_use_and_no_serious_accessibility_violations(
    console: Console, browser: Browser
) -> None:
    assert AXE.exists(), f"{AXE} is missing: `make test` installs axe-core"
    page = await _page(browser)
    await page.goto(f"{console.url}/sign-in")
    await page.keyboard.press("Tab")  # the skip link comes first
    assert await page.evaluate("document.activeElement.className") == "skip"
    for _ in range(20):  # to the key field, by Tab alone
        if await page.evaluate("document.activeElement.id") == "api_key":
            break
        await page.keyboard.press("Tab")
    await page.keyboard.type(console.organiser_key)
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{console.url}/roadshows")
    for _ in range(20):  # to the road show's link, then Enter
        await page.keyboard.press("Tab")
        href = await page.evaluate("document.activeElement.getAttribute('href') || ''")
        if href.startswith("/roadshows/"):
            break
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{console.url}/roadshows/{console.roadshow_id}")

    axe = AXE.read_text()
    rid = console.roadshow_id
    party = f"{console.urls.registration}/v1/enterprises?roadshow_id={rid}&limit=1"
    eid = (await console.api(console.organiser_key, party))["body"]["items"][0]["enterprise_id"]
    found: dict[str, list[str]] = {}
    for name, path in (
        ("dashboard", f"/roadshows/{rid}"),
        ("schedule", f"/roadshows/{rid}/schedule"),
        ("registrations", f"/roadshows/{rid}/registrations"),
        ("enterprise", f"/parties/enterprise/{eid}"),
    ):
        await page.goto(f"{console.url}{path}")
        # Evaluated through the DevTools protocol: the page's CSP (script-src 'self')
        # stays as it is for the scan.
        await page.evaluate(axe)
        result = await page.evaluate("async () => JSON.stringify(await axe.run())")
        violations = json.loads(result)["violations"]
        found[name] = [v["id"] for v in violations if v["impact"] in ("serious", "critical")]
        await _shot(page, f"axe-{name}")
    assert found == {name: [] for name in found}


async def test_the_console_log_holds_no_api_key(console: Console) -> None:
    text = console.log_file.read_text()
    assert '"service": "console"' in text
    assert console.organiser_key not in text and console.park_key not in text
