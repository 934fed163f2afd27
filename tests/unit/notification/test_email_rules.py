"""Pure e-mail rules, no I/O: unsubscribe tokens, reminder timing, SMTP reply
codes, agenda digests, message composition, settings."""

from __future__ import annotations

import email
import email.policy
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from icalendar import Calendar
from pydantic import SecretStr, ValidationError

from services.notification.email.compose import Identity, Recipient, Unsendable, build_message
from services.notification.email.rules import (
    Content,
    MeetingLine,
    agenda_digest,
    outcome_of_smtp,
    recipient_id,
    reminder_due,
)
from services.notification.email.smtp import wire_bytes
from services.notification.email.tokens import Signer
from services.notification.outbound import policy as domain
from services.notification.settings import NotificationSettings

NOW = datetime(2027, 5, 10, 8, 0, tzinfo=UTC)
SECRET = "k" * 40


def _line(minutes: int, counterpart: str = "Pudong Bank") -> MeetingLine:
    starts = datetime(2027, 5, 15, 1, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return MeetingLine(
        meeting_id=uuid.uuid4(),
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        table=3,
        slot=minutes // 30,
        sequence=0,
        status="scheduled",
        counterpart=counterpart,
    )


def _content(*lines: MeetingLine, organisation: str = "Autonomy Labs") -> Content:
    return Content(
        kind="schedule",
        role="enterprise.president",
        organisation=organisation,
        roadshow_id=uuid.uuid4(),
        roadshow_name="Road show",
        venue="Caohejing High-Tech Park",
        timezone="Asia/Shanghai",
        agenda=list(lines),
        agenda_digest=agenda_digest(lines),
    )


IDENTITY = Identity("Roadshow <meetings@roadshow.test>", None, "https://notify.roadshow.test")


def test_tokens_name_their_recipient_and_cannot_be_forged() -> None:
    rid = recipient_id("participant.contact", uuid.uuid4())
    signer = Signer(SECRET)
    token = signer.unsubscribe_token(rid)
    assert signer.unsubscribe_recipient(token) == rid
    assert Signer("another-key" * 4).unsubscribe_recipient(token) is None
    other = signer.unsubscribe_token(uuid.uuid4())
    forged = ".".join([*token.split(".")[:2], other.split(".")[2]])
    assert signer.unsubscribe_recipient(forged) is None
    for junk in ("", "u1", "u1..", "u2." + token[3:], token + "x", "u1.!!.??"):
        assert signer.unsubscribe_recipient(junk) is None
    assert Signer("").unsubscribe_recipient(token) is None  # no key configured: none is valid


def test_unsubscribe_tokens_keep_the_format_of_links_already_sent() -> None:
    # u1.<recipient>.<HMAC-SHA256("roadshow-unsubscribe:" + recipient)[:16]>, as before
    # the token module became generic: links in mailboxes keep working.
    import base64
    import hashlib
    import hmac

    rid = uuid.UUID("7d4f0c1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f")
    mac = hmac.new(SECRET.encode(), b"roadshow-unsubscribe:" + rid.bytes, hashlib.sha256)
    b64 = base64.urlsafe_b64encode
    old = (
        f"u1.{b64(rid.bytes).rstrip(b'=').decode()}.{b64(mac.digest()[:16]).rstrip(b'=').decode()}"
    )
    assert Signer(SECRET).unsubscribe_token(rid) == old
    assert Signer(SECRET).unsubscribe_recipient(old) == rid


def test_recipient_ids_are_per_role() -> None:
    party = uuid.uuid4()
    assert recipient_id("enterprise.president", party) == recipient_id(
        "enterprise.president", party
    )
    assert recipient_id("enterprise.president", party) != recipient_id("participant.contact", party)


def test_the_reminder_is_due_at_the_lead_time_and_never_in_the_past() -> None:
    first = NOW + timedelta(days=2)
    assert reminder_due(first, 86_400, NOW) == first - timedelta(days=1)
    assert reminder_due(NOW + timedelta(hours=23), 86_400, NOW) is None


def test_smtp_reply_codes() -> None:
    assert outcome_of_smtp(250) == "delivered"
    assert outcome_of_smtp(451) == "failed"
    assert outcome_of_smtp(421) == "failed"
    assert outcome_of_smtp(550) == "rejected"
    assert outcome_of_smtp(554) == "rejected"
    policy = domain.RetryPolicy(schedule=(5, 60))
    rejected = domain.decide(domain.Attempt("rejected"), 1, policy, NOW, lambda: 0.5)
    assert rejected.status == "dead"
    failed = domain.decide(domain.Attempt("failed"), 1, policy, NOW, lambda: 0.5)
    assert failed.status == "pending"


def test_the_digest_is_about_the_agenda_not_its_order() -> None:
    a, b = _line(0), _line(30)
    assert agenda_digest([a, b]) == agenda_digest([b, a])
    assert agenda_digest([a]) != agenda_digest([a, b])
    assert agenda_digest([a]) != agenda_digest([a.model_copy(update={"table": 9})])


def test_partner_supplied_names_cannot_inject_headers_or_markup() -> None:
    content = _content(_line(0, counterpart="<script>x</script> Bank\r\nBcc: evil@x.test"))
    msg = build_message(
        content,
        Recipient(name="Avery\r\nBcc: evil@x.test", email="avery@example.test"),
        IDENTITY,
        notification_id=uuid.uuid4(),
        unsubscribe_token="u1.a.b",
        now=NOW,
    )
    headers = msg.as_bytes().replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in headers and "Bcc" not in msg
    html = msg.get_body(("html",))
    assert html is not None and "<script>" not in html.get_content()
    (part,) = list(msg.iter_attachments())
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    (event,) = Calendar.from_ical(payload).walk("VEVENT")
    assert event.decoded("dtstart").hour == 9  # 01:00 UTC is 09:00 in Shanghai


def test_an_address_a_header_cannot_carry_is_unsendable() -> None:
    with pytest.raises(Unsendable):
        build_message(
            _content(_line(0)),
            Recipient(name=None, email="not an address"),
            IDENTITY,
            notification_id=uuid.uuid4(),
            unsubscribe_token="u1.a.b",
            now=NOW,
        )


def test_email_settings() -> None:
    base: dict[str, Any] = {"database_url": SecretStr("postgresql://x/y")}
    off = NotificationSettings(**base)
    assert off.email_enabled is False and off.email_schedule == off.retry_schedule
    on: dict[str, Any] = {
        **base,
        "email_enabled": True,
        "mail_from": "Roadshow <meetings@roadshow.test>",
        "email_public_base_url": "https://notify.roadshow.test",
        "email_token_secret": SecretStr(SECRET),
        "personal_data_key": SecretStr("A" * 43),
    }
    s = NotificationSettings(**on, email_reminder_lead="12h", email_retry_schedule="1m,1h")
    assert s.email_reminder_lead == 43_200 and s.email_schedule == (60, 3600)
    bads: list[dict[str, Any]] = [
        {"mail_from": "nobody"},
        {"email_token_secret": SecretStr("short")},
        {"email_public_base_url": ""},
        {"smtp_username": "u", "smtp_password": SecretStr("p"), "smtp_tls": "none"},
        {"smtp_username": "u"},
        {"smtp_timeout_seconds": 90},  # longer than the 60 s lease
        {"email_reminder_lead": "1h,2h"},
        {"personal_data_key": None},  # e-mail opens people's sealed addresses with it
        {"personal_data_key": SecretStr("short")},
    ]
    for bad in bads:
        with pytest.raises(ValidationError):
            NotificationSettings(**{**on, **bad})


def test_unsubscribe_header_stays_a_usable_url_in_the_bytes_sent() -> None:
    msg = build_message(
        _content(_line(0)),
        Recipient(name="Zoë Müller", email="zoe@example.test"),
        IDENTITY,
        notification_id=uuid.uuid4(),
        unsubscribe_token="u1." + "a" * 40 + "." + "b" * 40,
        now=NOW,
    )
    sent = wire_bytes(msg)
    assert sent.isascii()  # 7-bit: no relay needs 8BITMIME
    again = email.message_from_bytes(sent, policy=email.policy.default)
    assert isinstance(again, EmailMessage)
    body = again.get_body(("plain",))
    assert body is not None and "Dear Zoë Müller," in body.get_content()
    raw = sent.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode()
    (line,) = [h for h in raw.split("\n") if h.startswith("List-Unsubscribe:")]
    assert line.startswith("List-Unsubscribe: <http") and line.endswith(">")  # not RFC 2047-encoded


def test_emails_and_calendars_show_the_venue_and_the_interpreters_languages() -> None:
    from zoneinfo import ZoneInfo

    from services.notification.email.calendar import build_calendar
    from services.notification.email.compose import html_body, text_body

    there = _line(0).model_copy(
        update={"venue": "Zhangjiang", "venue_table": 2, "interpreter_languages": ["en", "zh"]}
    )
    here = _line(60, counterpart="Minhang Fund")  # no venues: the road show's, its table
    content = _content(there, here)
    zone = ZoneInfo("Asia/Shanghai")
    text = text_body(content, None, zone, "https://u")
    assert "Zhangjiang, table 2  Pudong Bank  interpreter (en/zh)" in text
    assert "table 3  Minhang Fund\n" in text
    assert "<td>Zhangjiang, table 2</td>" in html_body(content, None, zone, "https://u")
    ics = build_calendar(
        content,
        organizer="mailto:meetings@roadshow.test",
        organizer_name="Roadshow",
        attendee="mailto:p@example.com",
        attendee_name=None,
        now=NOW,
    ).decode()
    assert "LOCATION:Zhangjiang\\, table 2" in ics
    assert "LOCATION:Caohejing High-Tech Park\\, table 3" in ics
    assert "interpreter (en/zh)" in ics.replace("\r\n ", "")
