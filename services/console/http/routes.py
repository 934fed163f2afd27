"""The console's pages: each parses the request, calls the services' public APIs
with the signed-in partner's key, and renders a template. No business data is
kept here; every figure comes from an API answer."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from services.console import charts, dashboard, exports
from services.console.clients import ApiError, Services
from services.console.http.forms import (
    AddMeetingForm,
    InterestForm,
    LockForm,
    PlaceForm,
    ProvisionalRunForm,
    SignInForm,
    parse,
)
from services.console.http.render import SERVICES, flash, page, safe_next
from services.console.http.security import LANGUAGE, sign_in, sign_out, signed_in_key
from services.console.i18n import LANGUAGES
from services.console.i18n import gettext as _

routes = web.RouteTableDef()
SIDES = ("enterprise", "participant")
KINDS = ("enterprise", *dashboard.PARTICIPANT_KINDS)
FAIR_MINIMUM = web.AppKey("fair_minimum", int)


def _services(request: web.Request) -> Services:
    return request.app[SERVICES]


async def _key(request: web.Request) -> str:
    key = await signed_in_key(request)
    if key is None:
        raise web.HTTPFound("/sign-in")
    return key


def _uuid(request: web.Request, name: str) -> str:
    """A path id; anything that is not a UUID does not exist (404, as through the APIs)."""
    try:
        return str(uuid.UUID(request.match_info[name]))
    except ValueError:
        raise web.HTTPNotFound() from None


def _cid(request: web.Request) -> str:
    return request.headers.get("X-Correlation-ID") or f"console-{uuid.uuid4()}"


# --- ops ----------------------------------------------------------------------------------


@routes.get("/healthz")
async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Ready when every service it calls answers its own /healthz."""
    services = _services(request)
    checks: dict[str, bool] = {}
    for name, url in services.urls.items():
        try:
            async with services.session.get(f"{url}/healthz") as resp:
                checks[name] = resp.status == 200
        except (OSError, TimeoutError):
            checks[name] = False
    ok = all(checks.values())
    return web.json_response(
        {"status": "ready" if ok else "not ready", "checks": checks}, status=200 if ok else 503
    )


# --- sign-in, language --------------------------------------------------------------------


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    raise web.HTTPFound("/roadshows" if await signed_in_key(request) else "/sign-in")


@routes.get("/sign-in")
async def sign_in_page(request: web.Request) -> web.Response:
    return await page(request, "sign_in.html", {"errors": {}})


@routes.post("/sign-in")
async def sign_in_submit(request: web.Request) -> web.Response:
    form, errors = parse(SignInForm, await request.post())
    if form is None:
        errors = {"api_key": _("Enter your partner API key.")}
        return await page(request, "sign_in.html", {"errors": errors}, status=422)
    try:  # a key the registration service accepts is a partner's key
        await _services(request).call(
            form.api_key, "registration", "GET", "/v1/roadshows", params={"limit": 1}
        )
    except ApiError as exc:
        if exc.status not in (401, 403):
            raise
        errors = {"api_key": _("That API key was not accepted.")}
        return await page(request, "sign_in.html", {"errors": errors}, status=422)
    await sign_in(request, form.api_key)
    raise web.HTTPFound("/roadshows")


@routes.post("/sign-out")
async def sign_out_submit(request: web.Request) -> web.Response:
    await sign_out(request)
    raise web.HTTPFound("/sign-in")


@routes.post("/language")
async def choose_language(request: web.Request) -> web.Response:
    form = await request.post()
    lang = form.get("language")
    if lang in LANGUAGES:
        (await get_session(request))[LANGUAGE] = lang
    raise web.HTTPFound(safe_next(form.get("next")))


# --- road shows and the dashboard ------------------------------------------------------------


@routes.get("/roadshows")
async def roadshows(request: web.Request) -> web.Response:
    key = await _key(request)
    items = await _services(request).every(key, "registration", "/v1/roadshows")
    return await page(request, "roadshows.html", {"roadshows": items})


async def _roadshow(request: web.Request, key: str, rid: str) -> dict[str, Any]:
    out: dict[str, Any] = await _services(request).call(
        key, "registration", "GET", f"/v1/roadshows/{rid}", correlation_id=_cid(request)
    )
    return out


@routes.get("/roadshows/{roadshow_id}")
async def roadshow_dashboard(request: web.Request) -> web.Response:
    key = await _key(request)
    rid = _uuid(request, "roadshow_id")
    s, cid = _services(request), _cid(request)
    roadshow = await _roadshow(request, key, rid)
    # Matching answers 404 unless this partner organises the road show.
    matches = await s.every(key, "matching", f"/v1/roadshows/{rid}/matches", correlation_id=cid)
    figures = await s.call(key, "matching", "GET", f"/v1/roadshows/{rid}/figures")
    schedule = await s.call(key, "matching", "GET", f"/v1/roadshows/{rid}/schedule")
    minimum = _int(request.query.get("fair_minimum"), request.app[FAIR_MINIMUM], 0, 48)
    by_kind = dashboard.parties_by_kind(matches)
    answers = dashboard.interest_answers(matches)
    distribution = dashboard.meetings_per_enterprise(matches, schedule["meetings"])
    kind_labels = _kind_labels()
    answer_labels = _answer_labels()
    context = {
        "roadshow": roadshow,
        "figures": figures,
        "by_kind": by_kind,
        "by_partner": dashboard.parties_by_partner(matches),
        "answers": answers,
        "capacity": dashboard.capacity(roadshow, matches, minimum),
        "acceptance": dashboard.acceptance_rate(matches),
        "distribution": distribution,
        "meetings": sum(1 for m in schedule["meetings"] if m["status"] == "scheduled"),
        "kind_chart": charts.bars(
            _("Parties with a match, by kind"), [(kind_labels[k], v) for k, v in by_kind.items()]
        ),
        "answer_chart": charts.bars(
            _("Interest answers"), [(answer_labels[a], v) for a, v in answers.items()]
        ),
        "distribution_chart": charts.histogram(
            _("Enterprises by number of meetings"), distribution, _("meetings")
        ),
    }
    return await page(request, "dashboard.html", context)


def _int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return min(max(int(value or default), lo), hi)
    except ValueError:
        return default


def _kind_labels() -> dict[str, str]:
    return {
        "enterprise": _("Enterprises"),
        "fund": _("Funds"),
        "bank": _("Banks"),
        "company": _("Companies"),
    }


def _answer_labels() -> dict[str, str]:
    return {
        "pending": _("Pending"),
        "accept": _("Accepted"),
        "must-meet": _("Must meet"),
        "decline": _("Declined"),
        "expired": _("Expired"),
    }


# --- registrations and parties ---------------------------------------------------------------


@routes.get("/roadshows/{roadshow_id}/registrations")
async def registrations(request: web.Request) -> web.Response:
    """This partner's own registrations in the road show, filtered by kind and a search."""
    key = await _key(request)
    rid = _uuid(request, "roadshow_id")
    s = _services(request)
    roadshow = await _roadshow(request, key, rid)
    kind = request.query.get("kind", "")
    search = request.query.get("q", "").strip()
    rows: list[dict[str, Any]] = []
    if kind in ("", "enterprise"):
        for e in await s.every(key, "registration", "/v1/enterprises", {"roadshow_id": rid}):
            rows.append(_row("enterprise", e["enterprise_id"], "enterprise", e))
    if kind != "enterprise":
        query = {"roadshow_id": rid, "kind": kind if kind in KINDS else None}
        for p in await s.every(key, "registration", "/v1/participants", query):
            rows.append(_row("participant", p["participant_id"], p["kind"], p))
    if search:
        needle = search.casefold()
        rows = [r for r in rows if needle in r["haystack"]]
    rows.sort(key=lambda r: (r["kind"], r["name"].casefold()))
    context = {"roadshow": roadshow, "rows": rows, "kind": kind, "q": search, "kinds": KINDS}
    return await page(request, "registrations.html", context | {"kind_labels": _kind_labels()})


def _row(side: str, party_id: str, kind: str, party: dict[str, Any]) -> dict[str, Any]:
    words = [party["name"], *party.get("sectors", []), party.get("focus", "")]
    if "project" in party:
        words += [party["project"]["title"], party["project"]["summary"]]
    return {
        "side": side,
        "id": party_id,
        "kind": kind,
        "name": party["name"],
        "sectors": party.get("sectors", []),
        "status": party["status"],
        "haystack": " ".join(words).casefold(),
    }


@routes.get("/parties/{side}/{party_id}")
async def party_page(request: web.Request) -> web.Response:
    key = await _key(request)
    side = request.match_info["side"]
    if side not in SIDES:
        raise web.HTTPNotFound()
    pid = _uuid(request, "party_id")
    s = _services(request)
    # Matching answers 404 unless this partner registered the party or organises its road show.
    matches = await s.every(key, "matching", f"/v1/{side}s/{pid}/matches")
    agenda = await s.call(key, "matching", "GET", f"/v1/{side}s/{pid}/schedule")
    own: dict[str, Any] | None = None
    try:  # only the registering partner reads the registration (and answers for the party)
        own = await s.call(key, "registration", "GET", f"/v1/{side}s/{pid}")
    except ApiError as exc:
        if exc.status != 404:
            raise
    name = own["name"] if own else _name_from(matches, side)
    context = {
        "side": side,
        "party_id": pid,
        "party": own,
        "name": name,
        "matches": matches,
        "agenda": [m for m in agenda["meetings"] if m["status"] == "scheduled"],
        "zone": agenda["timezone"],
        "answer_labels": _answer_labels(),
    }
    return await page(request, "party.html", context)


def _name_from(matches: list[dict[str, Any]], side: str) -> str:
    for m in matches:
        if m.get(f"{side}_name"):
            return str(m[f"{side}_name"])
    return ""


@routes.post("/matches/{match_id}/interest")
async def answer_interest(request: web.Request) -> web.Response:
    key = await _key(request)
    mid = _uuid(request, "match_id")
    data = await request.post()
    form = parse(InterestForm, data)[0]
    back = safe_next(data.get("next"), "/roadshows")
    if form is None:
        await flash(request, _("That answer was not understood; nothing was changed."))
        raise web.HTTPFound(back)
    try:
        await _services(request).call(
            key,
            "matching",
            "PUT",
            f"/v1/matches/{mid}/interest",
            body={"side": form.side, "interest": form.interest},
        )
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        await flash(request, _("The answer was refused: %(reason)s", reason=exc.detail))
        raise web.HTTPFound(back) from None
    await flash(request, _("Answer recorded."))
    raise web.HTTPFound(back)


@routes.get("/parties/{side}/{party_id}/agenda.ics")
async def party_ics(request: web.Request) -> web.Response:
    key = await _key(request)
    side = request.match_info["side"]
    if side not in SIDES:
        raise web.HTTPNotFound()
    pid = _uuid(request, "party_id")
    got = await _services(request).download(
        key, "matching", f"/v1/{side}s/{pid}/schedule", {"format": "ics"}
    )
    return web.Response(
        body=got.body,
        content_type="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="agenda-{pid}.ics"'},
    )


# --- scheduling -----------------------------------------------------------------------------


async def _schedule_page(
    request: web.Request,
    key: str,
    rid: str,
    errors: dict[str, str],
    status: int = 200,
    values: dict[str, str] | None = None,
) -> web.Response:
    roadshow = await _roadshow(request, key, rid)
    schedule = await _services(request).call(
        key, "matching", "GET", f"/v1/roadshows/{rid}/schedule"
    )
    zone = roadshow["timezone"]
    day = request.query.get("day") or None
    venue = request.query.get("venue") or None
    meetings = schedule["meetings"]
    # Matches that may meet and have no meeting: what a meeting by hand can be for.
    matches = await _services(request).every(key, "matching", f"/v1/roadshows/{rid}/matches")
    meeting_pairs = {m["match_id"] for m in meetings if m["status"] == "scheduled"}
    open_matches = [
        m
        for m in matches
        if m["match_id"] not in meeting_pairs
        and "decline" not in (m.get("enterprise_interest"), m.get("participant_interest"))
    ]
    context = {
        "roadshow": roadshow,
        "zone": zone,
        "grid": dashboard.grid(meetings, zone, day, venue),
        "days": dashboard.days(meetings, zone),
        "day": day,
        "venues": dashboard.venues(meetings),
        "venue": venue,
        "errors": errors,
        "form": values or {},
        "meetings": [m for m in meetings if m["status"] == "scheduled"],
        "pending_changes": schedule.get("pending_changes", 0),
        "slots": list(enumerate(dashboard.slot_starts(roadshow))),
        "open_matches": open_matches,
    }
    return await page(request, "schedule.html", context, status)


@routes.get("/roadshows/{roadshow_id}/schedule")
async def schedule_grid(request: web.Request) -> web.Response:
    key = await _key(request)
    return await _schedule_page(request, key, _uuid(request, "roadshow_id"), {})


@routes.post("/roadshows/{roadshow_id}/schedule-jobs")
async def start_run(request: web.Request) -> web.Response:
    key = await _key(request)
    rid = _uuid(request, "roadshow_id")
    data = await request.post()
    form, errors = parse(ProvisionalRunForm, data)
    if form is None:
        values = {k: v for k, v in data.items() if k != "csrf" and isinstance(v, str)}
        messages = {
            "fair_minimum": _("Fair minimum: a whole number from 0 to 48."),
            "enterprise_max_meetings": _(
                "Most meetings per enterprise: a whole number from 1 to 200."
            ),
        }
        shown = {f: messages.get(f, m) for f, m in errors.items()}
        return await _schedule_page(request, key, rid, shown, 422, values)
    body = {k: v for k, v in form.model_dump(exclude={"provisional"}).items() if v is not None}
    body["publish"] = not form.provisional
    job = await _services(request).call(
        key,
        "matching",
        "POST",
        f"/v1/roadshows/{rid}/schedule-jobs",
        body=body,
        correlation_id=_cid(request),
    )
    raise web.HTTPFound(f"/roadshows/{rid}/jobs/{job['job_id']}")


# --- the provisional schedule: hand edits and publishing ------------------------------------


def _refusal(exc: ApiError) -> str:
    """A refused edit in the viewer's language: the kind of conflict, then matching's words."""
    kinds = {
        "double-booked": _("Double-booked"),
        "outside availability": _("Outside availability"),
        "over a cap": _("Over a cap"),
        "no table": _("No table"),
        "no such slot": _("No such slot"),
        "locked": _("Locked"),
    }
    detail = exc.detail
    for prefix, label in kinds.items():
        if detail.startswith(prefix):
            return _("Refused (%(kind)s): %(reason)s", kind=label, reason=detail)
    return _("Refused: %(reason)s", reason=detail)


async def _edit(
    request: web.Request, method: str, path: str, body: dict[str, Any] | None, done: str
) -> web.Response:
    """One hand edit through matching's API; back to the schedule with what happened."""
    key = await _key(request)
    rid = _uuid(request, "roadshow_id")
    try:
        await _services(request).call(
            key, "matching", method, path, body=body, correlation_id=_cid(request)
        )
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        await flash(request, _refusal(exc))
    else:
        await flash(request, done)
    # Back to the top of the page, where the outcome is said.
    raise web.HTTPFound(f"/roadshows/{rid}/schedule")


async def _bad_form(request: web.Request) -> web.Response:
    await flash(request, _("That form was not filled in right; nothing was changed."))
    raise web.HTTPFound(f"/roadshows/{_uuid(request, 'roadshow_id')}/schedule")


@routes.post("/roadshows/{roadshow_id}/meetings/{meeting_id}/lock")
async def lock_meeting(request: web.Request) -> web.Response:
    form = parse(LockForm, await request.post())[0]
    if form is None:
        return await _bad_form(request)
    mid = _uuid(request, "meeting_id")
    done = _("Meeting locked.") if form.locked else _("Meeting unlocked.")
    return await _edit(request, "PUT", f"/v1/meetings/{mid}/lock", {"locked": form.locked}, done)


@routes.post("/roadshows/{roadshow_id}/meetings/{meeting_id}/move")
async def move_meeting(request: web.Request) -> web.Response:
    form = parse(PlaceForm, await request.post())[0]
    if form is None:
        return await _bad_form(request)
    mid = _uuid(request, "meeting_id")
    body = {"slot": form.slot, "table": form.table}
    return await _edit(request, "PUT", f"/v1/meetings/{mid}/place", body, _("Meeting moved."))


@routes.post("/roadshows/{roadshow_id}/meetings/{meeting_id}/cancel")
async def cancel_meeting(request: web.Request) -> web.Response:
    mid = _uuid(request, "meeting_id")
    return await _edit(request, "POST", f"/v1/meetings/{mid}/cancel", None, _("Meeting cancelled."))


@routes.post("/roadshows/{roadshow_id}/meetings")
async def add_meeting(request: web.Request) -> web.Response:
    form = parse(AddMeetingForm, await request.post())[0]
    if form is None:
        return await _bad_form(request)
    rid = _uuid(request, "roadshow_id")
    body = {"match_id": str(form.match_id), "slot": form.slot, "table": form.table}
    return await _edit(request, "POST", f"/v1/roadshows/{rid}/meetings", body, _("Meeting added."))


@routes.post("/roadshows/{roadshow_id}/schedule/publish")
async def publish_schedule(request: web.Request) -> web.Response:
    rid = _uuid(request, "roadshow_id")
    done = _("Schedule published: the meetings are on their way to webhooks and e-mail.")
    return await _edit(request, "POST", f"/v1/roadshows/{rid}/schedule/publish", None, done)


@routes.get("/roadshows/{roadshow_id}/jobs/{job_id}")
async def job_page(request: web.Request) -> web.Response:
    key = await _key(request)
    rid, jid = _uuid(request, "roadshow_id"), _uuid(request, "job_id")
    roadshow = await _roadshow(request, key, rid)
    job = await _services(request).call(key, "matching", "GET", f"/v1/schedule-jobs/{jid}")
    if job["roadshow_id"] != rid:
        raise web.HTTPNotFound()
    return await page(request, "job.html", {"roadshow": roadshow, "job": job})


@routes.get("/roadshows/{roadshow_id}/jobs/{job_id}/progress")
async def job_progress(request: web.Request) -> web.Response:
    """What the job page polls: the job's status and progress, as matching says."""
    key = await _key(request)
    rid, jid = _uuid(request, "roadshow_id"), _uuid(request, "job_id")
    job = await _services(request).call(key, "matching", "GET", f"/v1/schedule-jobs/{jid}")
    if job["roadshow_id"] != rid:
        raise web.HTTPNotFound()
    keep = ("status", "progress", "meetings", "shortfall", "proven", "error")
    return web.json_response({k: job.get(k) for k in keep})


@routes.get("/roadshows/{roadshow_id}/schedule.csv")
async def schedule_csv(request: web.Request) -> web.Response:
    key = await _key(request)
    rid = _uuid(request, "roadshow_id")
    got = await _services(request).download(
        key, "matching", f"/v1/roadshows/{rid}/schedule", {"format": "csv"}
    )
    return web.Response(
        body=got.body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="schedule-{rid}.csv"'},
    )


@routes.get("/roadshows/{roadshow_id}/schedule.xlsx")
async def schedule_xlsx(request: web.Request) -> web.Response:
    key = await _key(request)
    rid = _uuid(request, "roadshow_id")
    roadshow = await _roadshow(request, key, rid)
    schedule = await _services(request).call(
        key, "matching", "GET", f"/v1/roadshows/{rid}/schedule"
    )
    labels = {
        "grid": _("Grid"),
        "meetings": _("Meetings"),
        "enterprise": _("Enterprise"),
        "table": _("Table"),
        "starts_at": _("Starts"),
        "ends_at": _("Ends"),
        "enterprise_name": _("Enterprise"),
        "participant_name": _("Participant"),
        "participant_kind": _("Kind"),
        "score": _("Score"),
    }
    body = exports.schedule_xlsx(schedule["meetings"], roadshow["timezone"], labels)
    return web.Response(
        body=body,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="schedule-{rid}.xlsx"'},
    )


# --- deliveries -----------------------------------------------------------------------------

RECENT = 10


@routes.get("/deliveries")
async def deliveries(request: web.Request) -> web.Response:
    """This partner's webhook subscriptions: counts by status, the recent deliveries
    and the dead ones (each can be delivered again)."""
    key = await _key(request)
    s = _services(request)
    subscriptions = []
    for sub in await s.every(key, "notification", "/v1/subscriptions"):
        sid = sub["subscription_id"]
        items = await s.every(key, "notification", f"/v1/subscriptions/{sid}/notifications")
        counts = {status: 0 for status in ("pending", "delivered", "dead")}
        for n in items:
            counts[n["status"]] = counts.get(n["status"], 0) + 1
        subscriptions.append(
            {
                **sub,
                "counts": counts,
                "recent": list(reversed(items[-RECENT:])),  # the API lists oldest first
                "dead": [n for n in items if n["status"] == "dead"],
            }
        )
    return await page(request, "deliveries.html", {"subscriptions": subscriptions})


@routes.post("/subscriptions/{subscription_id}/notifications/{notification_id}/redeliver")
async def redeliver(request: web.Request) -> web.Response:
    key = await _key(request)
    sid, nid = _uuid(request, "subscription_id"), _uuid(request, "notification_id")
    await _services(request).call(
        key,
        "notification",
        "POST",
        f"/v1/subscriptions/{sid}/notifications/{nid}/redeliver",
        correlation_id=_cid(request),
    )
    await flash(request, _("Queued for delivery again."))
    raise web.HTTPFound("/deliveries")
