"""A stored message's content, the recipient's name and address (read when it
is sent) and the service's identity, made into one MIME message: plain text
and an HTML alternative, with the .ics attachment, every time in the road
show's zone. A match e-mail (proposals, digest) lists matches with their
answer links instead, and has no calendar. Pure: no I/O."""

from __future__ import annotations

import html
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr
from zoneinfo import ZoneInfo

from services.notification.email.calendar import build_calendar, method_of
from services.notification.email.rules import (
    ANSWER_LABELS,
    MATCH_KINDS,
    Content,
    MatchLine,
    MeetingLine,
    category_of,
)
from shared.contracts.matching import InterestAnswer

# A match's answer links, answer by answer (accept, decline, must-meet).
AnswerLinks = Mapping[uuid.UUID, Mapping[InterestAnswer, str]]

_POLICY = SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class Identity:
    """Who the messages come from, and where their unsubscribe links point."""

    mail_from: str  # header form, e.g. 'Roadshow <noreply@roadshow.example>'
    reply_to: str | None
    unsubscribe_base: str  # e.g. https://notify.roadshow.example

    @property
    def address(self) -> str:
        return parseaddr(self.mail_from)[1]

    @property
    def display_name(self) -> str:
        return parseaddr(self.mail_from)[0] or "Roadshow"

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    def message_id(self, notification_id: uuid.UUID) -> str:
        # Stable per stored message: every try and redelivery carries it, so a
        # copy sent twice after a crash is recognisable as the same message.
        return f"<{notification_id}@{self.domain}>"

    def unsubscribe_url(self, token: str) -> str:
        return f"{self.unsubscribe_base.rstrip('/')}/v1/email/unsubscribe?token={token}"

    def answer_url(self, token: str) -> str:
        return f"{self.unsubscribe_base.rstrip('/')}/v1/email/answer?token={token}"

    def feedback_url(self, token: str) -> str:
        return f"{self.unsubscribe_base.rstrip('/')}/v1/email/feedback?token={token}"


@dataclass(frozen=True)
class Recipient:
    name: str | None
    email: str


class Unsendable(ValueError):
    """The message cannot be made (an address or name a header cannot carry)."""


def build_message(
    content: Content,
    recipient: Recipient,
    identity: Identity,
    *,
    notification_id: uuid.UUID,
    unsubscribe_token: str,
    now: datetime,
    answer_links: AnswerLinks | None = None,
    feedback_link: str | None = None,
) -> EmailMessage:
    zone = ZoneInfo(content.timezone)
    unsubscribe = identity.unsubscribe_url(unsubscribe_token)
    # Headers may run to RFC 5322's 998 characters: folding would RFC 2047-encode the
    # unsubscribe URL (it has no spaces) and mail clients could not use it.
    msg = EmailMessage(policy=_POLICY)
    try:
        msg["From"] = identity.mail_from
        msg["To"] = Address(display_name=_one_line(recipient.name or ""), addr_spec=recipient.email)
        if identity.reply_to:
            msg["Reply-To"] = identity.reply_to
        msg["Subject"] = _one_line(subject(content, zone))
    except (ValueError, IndexError) as exc:
        # The reason names the header, never its value (it may be an address).
        raise Unsendable(f"a header cannot carry this value ({type(exc).__name__})") from None
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = identity.message_id(notification_id)
    msg["Auto-Submitted"] = "auto-generated"
    # One-click unsubscribe (RFC 8058): mail clients POST to the URL.
    msg["List-Unsubscribe"] = f"<{unsubscribe}>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["X-Roadshow-Category"] = category_of(content.kind)
    msg["X-Roadshow-Message"] = content.kind if content.change is None else content.change
    if content.kind in MATCH_KINDS:
        links = answer_links or {}
        msg.set_content(match_text_body(content, recipient.name, links, unsubscribe))
        msg.add_alternative(
            match_html_body(content, recipient.name, links, unsubscribe), subtype="html"
        )
        return msg  # nothing for a calendar: no meeting is fixed yet
    if content.kind == "feedback":
        if content.meeting is None or feedback_link is None:
            raise Unsendable("a feedback e-mail without its meeting or link")
        msg.set_content(
            feedback_text_body(
                content, content.meeting, recipient.name, zone, feedback_link, unsubscribe
            )
        )
        msg.add_alternative(
            feedback_html_body(
                content, content.meeting, recipient.name, zone, feedback_link, unsubscribe
            ),
            subtype="html",
        )
        return msg  # the meeting is over: nothing for a calendar
    msg.set_content(text_body(content, recipient.name, zone, unsubscribe))
    msg.add_alternative(html_body(content, recipient.name, zone, unsubscribe), subtype="html")
    method = method_of(content)
    ics = build_calendar(
        content,
        organizer=identity.address,
        organizer_name=identity.display_name,
        attendee=recipient.email,
        attendee_name=recipient.name,
        now=now,
    )
    msg.add_attachment(
        ics,
        maintype="text",
        subtype="calendar",
        filename="cancel.ics" if method == "CANCEL" else "meetings.ics",
        params={"method": method, "charset": "utf-8"},
    )
    return msg


# --- words ---------------------------------------------------------------------------------


# Subjects that name only the road show, by kind.
_SUBJECTS = {
    "proposals": "Your proposed meetings at {}: please answer",
    "digest": "What changed in your matches at {}",
    "reminder": "Reminder: your meetings at {}",
}


def subject(content: Content, zone: ZoneInfo) -> str:
    if content.kind in _SUBJECTS:
        return _SUBJECTS[content.kind].format(content.roadshow_name)
    if content.kind == "feedback" and content.meeting is not None:
        return f"How was your meeting with {content.meeting.counterpart}?"
    if content.kind == "change" and content.changed is not None:
        m = content.changed
        if content.change == "cancelled":
            return f"Cancelled: your meeting with {m.counterpart}, {_when(m, zone)}"
        return f"Moved: your meeting with {m.counterpart} is now {_when(m, zone)}"
    return f"Your meetings at {content.roadshow_name}"


def _intro(content: Content, zone: ZoneInfo) -> list[str]:
    if content.kind == "change" and content.changed is not None:
        m = content.changed
        if content.change == "moved" and content.previous is not None:
            p = content.previous
            was = f"{_day(p.starts_at, zone)} {_hm(p.starts_at, zone)}, table {p.table}"
            return [
                f"Your meeting with {m.counterpart} at {content.roadshow_name} has moved.",
                f"It was: {was}.",
                f"It is now: {_when(m, zone)}, {m.place()}.",
            ]
        return [
            f"Your meeting with {m.counterpart} at {content.roadshow_name} "
            f"({_when(m, zone)}, {m.place()}) is cancelled.",
        ]
    if content.kind == "reminder":
        return [f"A reminder of your meetings at {content.roadshow_name}, {content.venue}."]
    return [
        f"Here is the schedule of {content.organisation} at {content.roadshow_name}, "
        f"{content.venue}.",
    ]


def _agenda_title(content: Content) -> str:
    return "Your meetings now:" if content.kind == "change" else "Your meetings:"


def text_body(content: Content, name: str | None, zone: ZoneInfo, unsubscribe: str) -> str:
    lines = [f"Dear {name}," if name else "Hello,", ""]
    lines += _intro(content, zone)
    lines += ["", f"All times are {_zone_label(zone, content)}.", "", _agenda_title(content)]
    agenda = [m for m in content.agenda if m.status == "scheduled"]
    if not agenda:
        lines.append("  (none)")
    for m in agenda:
        lines.append(
            f"  {_day(m.starts_at, zone)}  {_hm(m.starts_at, zone)}-{_hm(m.ends_at, zone)}"
            f"  {m.place()}  {m.counterpart}" + (f"  {m.interpreter()}" if m.interpreter() else "")
        )
        if m.reasons:
            lines.append("      why: " + "; ".join(m.reasons))
    lines += [
        "",
        "The attached calendar file updates your calendar.",
        "",
        "-- ",
        f"You receive this because {content.organisation} takes part in {content.roadshow_name}.",
        f"To receive no more e-mail from us: {unsubscribe}",
    ]
    return "\n".join(lines) + "\n"


def html_body(content: Content, name: str | None, zone: ZoneInfo, unsubscribe: str) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(_day(m.starts_at, zone))}</td>"
        f"<td>{e(_hm(m.starts_at, zone))}&ndash;{e(_hm(m.ends_at, zone))}</td>"
        f"<td>{e(m.place())}</td><td>{e(m.counterpart)}</td><td>{e(m.interpreter())}</td>"
        f"<td>{'<br>'.join(e(r) for r in m.reasons)}</td></tr>"
        for m in content.agenda
        if m.status == "scheduled"
    )
    intro = "".join(f"<p>{e(line)}</p>" for line in _intro(content, zone))
    greeting = f"Dear {e(name)}," if name else "Hello,"
    return (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"<p>{greeting}</p>{intro}"
        f"<p>All times are {e(_zone_label(zone, content))}.</p>"
        f"<h3>{e(_agenda_title(content))}</h3>"
        '<table cellpadding="4" style="border-collapse:collapse">'
        "<tr><th>Day</th><th>Time</th><th>Where</th><th>With</th><th></th><th>Why</th></tr>"
        f"{rows or '<tr><td colspan=6>(none)</td></tr>'}</table>"
        "<p>The attached calendar file updates your calendar.</p>"
        f'<p style="font-size:small;color:#666">You receive this because '
        f"{e(content.organisation)} takes part in {e(content.roadshow_name)}. "
        f'<a href="{e(unsubscribe)}">Receive no more e-mail from us</a>.</p>'
        "</body></html>"
    )


# --- match e-mails ------------------------------------------------------------------------

_NEWS = {"new": "New", "updated": "Updated", "withdrawn": "Withdrawn"}


def _match_intro(content: Content) -> list[str]:
    if content.kind == "proposals":
        return [
            f"The organisers of {content.roadshow_name} propose these meetings to "
            f"{content.organisation}.",
            "Answer each with one of its links: accept, decline, or must meet (a meeting "
            "you want above all). A decline is final for that meeting.",
        ]
    return [
        f"What changed in the proposed meetings of {content.organisation} at "
        f"{content.roadshow_name} since our last e-mail.",
    ]


def _score(m: MatchLine) -> str:
    return f"{round(m.score * 100)}%"


def match_text_body(
    content: Content, name: str | None, links: AnswerLinks, unsubscribe: str
) -> str:
    lines = [f"Dear {name}," if name else "Hello,", ""]
    lines += _match_intro(content)
    for m in content.matches:
        lines += ["", f"{_NEWS[m.news]}: {m.counterpart} (fit {_score(m)})"]
        if m.reasons:
            lines.append("  why: " + "; ".join(m.reasons))
        if m.answerable:
            for answer, url in links.get(m.match_id, {}).items():
                lines.append(f"  {ANSWER_LABELS[answer]}: {url}")
        else:
            lines.append("  no longer proposed; nothing to answer")
    lines += [
        "",
        "Each link asks you to confirm before anything is recorded.",
        "",
        "-- ",
        f"You receive this because {content.organisation} takes part in {content.roadshow_name}.",
        f"To receive no more e-mail from us: {unsubscribe}",
    ]
    return "\n".join(lines) + "\n"


def match_html_body(
    content: Content, name: str | None, links: AnswerLinks, unsubscribe: str
) -> str:
    e = html.escape
    items = []
    for m in content.matches:
        answers = (
            " &middot; ".join(
                f'<a href="{e(url)}">{e(ANSWER_LABELS[answer])}</a>'
                for answer, url in links.get(m.match_id, {}).items()
            )
            if m.answerable
            else "no longer proposed"
        )
        items.append(
            f"<tr><td>{e(_NEWS[m.news])}</td><td>{e(m.counterpart)}</td>"
            f"<td>{e(_score(m))}</td><td>{'<br>'.join(e(r) for r in m.reasons)}</td>"
            f"<td>{answers}</td></tr>"
        )
    intro = "".join(f"<p>{e(line)}</p>" for line in _match_intro(content))
    greeting = f"Dear {e(name)}," if name else "Hello,"
    return (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"<p>{greeting}</p>{intro}"
        '<table cellpadding="4" style="border-collapse:collapse">'
        "<tr><th></th><th>With</th><th>Fit</th><th>Why</th><th>Your answer</th></tr>"
        f"{''.join(items)}</table>"
        "<p>Each link asks you to confirm before anything is recorded.</p>"
        f'<p style="font-size:small;color:#666">You receive this because '
        f"{e(content.organisation)} takes part in {e(content.roadshow_name)}. "
        f'<a href="{e(unsubscribe)}">Receive no more e-mail from us</a>.</p>'
        "</body></html>"
    )


# --- feedback e-mails ----------------------------------------------------------------------


def _feedback_intro(content: Content, m: MeetingLine, zone: ZoneInfo) -> list[str]:
    return [
        f"{content.organisation} was to meet {m.counterpart} at {content.roadshow_name} "
        f"({_when(m, zone)}, {m.place()}).",
        "Tell the organisers how it went: whether it took place, how interested you are "
        "and what you would like next. It takes one click and a minute.",
    ]


def _footer(content: Content) -> str:
    return f"You receive this because {content.organisation} takes part in {content.roadshow_name}."


def feedback_text_body(
    content: Content,
    m: MeetingLine,
    name: str | None,
    zone: ZoneInfo,
    link: str,
    unsubscribe: str,
) -> str:
    lines = [f"Dear {name}," if name else "Hello,", ""]
    lines += _feedback_intro(content, m, zone)
    lines += [
        "",
        f"Your feedback: {link}",
        "",
        "The link opens a short form; nothing is recorded until you send it.",
        "",
        "-- ",
        _footer(content),
        f"To receive no more e-mail from us: {unsubscribe}",
    ]
    return "\n".join(lines) + "\n"


def feedback_html_body(
    content: Content,
    m: MeetingLine,
    name: str | None,
    zone: ZoneInfo,
    link: str,
    unsubscribe: str,
) -> str:
    e = html.escape
    intro = "".join(f"<p>{e(line)}</p>" for line in _feedback_intro(content, m, zone))
    greeting = f"Dear {e(name)}," if name else "Hello,"
    return (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"<p>{greeting}</p>{intro}"
        f'<p><a href="{e(link)}">Give your feedback</a></p>'
        "<p>The link opens a short form; nothing is recorded until you send it.</p>"
        f'<p style="font-size:small;color:#666">{e(_footer(content))} '
        f'<a href="{e(unsubscribe)}">Receive no more e-mail from us</a>.</p>'
        "</body></html>"
    )


def _when(m: MeetingLine, zone: ZoneInfo) -> str:
    return f"{_day(m.starts_at, zone)} {_hm(m.starts_at, zone)}-{_hm(m.ends_at, zone)}"


def _day(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%a %d %b %Y")


def _hm(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%H:%M")


def _zone_label(zone: ZoneInfo, content: Content) -> str:
    first = next((m.starts_at for m in content.agenda), None) or (
        content.changed.starts_at if content.changed else None
    )
    if first is None:
        return str(zone.key)
    offset = first.astimezone(zone).strftime("%z")
    return f"{zone.key} time (UTC{offset[:3]}:{offset[3:]})"


def _one_line(text: str) -> str:
    # Names and organisation names come from partners: no header injection.
    return " ".join(text.split())
