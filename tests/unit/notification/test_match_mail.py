"""Match e-mails as pure rules, no I/O: signed tokens (purposes, expiry,
forgery), what a person's first list and digest say, when a digest is due,
and how a match e-mail reads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from services.notification.email.compose import Identity, Recipient, build_message
from services.notification.email.rules import (
    ANSWER,
    AnswerLink,
    Content,
    KnownMatch,
    MatchLine,
    category_of,
    digest_lines,
    match_mail_at,
    proposal_lines,
)
from services.notification.email.tokens import UNSUBSCRIBE, BadToken, Purpose, Signer

NOW = datetime(2027, 5, 1, 9, 0, tzinfo=UTC)
SIGNER = Signer("s" * 40)


def _link(**overrides: object) -> AnswerLink:
    values: dict[str, object] = {
        "recipient_id": uuid.uuid4(),
        "match_id": uuid.uuid4(),
        "side": "participant",
        "answer": "accept",
        **overrides,
    }
    return AnswerLink.model_validate(values)


# --- tokens -------------------------------------------------------------------------


def test_a_token_opens_for_its_purpose_until_it_expires() -> None:
    link = _link(answer="must-meet")
    token = SIGNER.sign(ANSWER, link, expires_at=NOW + timedelta(days=1))
    assert token.startswith("a1.")
    assert SIGNER.open(ANSWER, token, AnswerLink, now=NOW) == link
    assert SIGNER.open(ANSWER, token, AnswerLink, now=NOW + timedelta(hours=23)) == link
    with pytest.raises(BadToken) as refused:
        SIGNER.open(ANSWER, token, AnswerLink, now=NOW + timedelta(days=1))
    assert refused.value.reason == "expired"


def test_a_token_never_opens_for_another_purpose() -> None:
    token = SIGNER.sign(ANSWER, _link(), expires_at=None)
    # Same tag, other name: the purpose is bound into the MAC.
    lookalike = Purpose("meeting-feedback", tag=ANSWER.tag)
    with pytest.raises(BadToken) as refused:
        SIGNER.open(lookalike, token, AnswerLink, now=NOW)
    assert refused.value.reason == "forged"
    with pytest.raises(BadToken):
        SIGNER.open(UNSUBSCRIBE, token, AnswerLink, now=NOW)
    # And an unsubscribe token is no answer.
    with pytest.raises(BadToken):
        SIGNER.open(ANSWER, SIGNER.unsubscribe_token(uuid.uuid4()), AnswerLink, now=NOW)


def test_forged_tokens_are_refused() -> None:
    token = SIGNER.sign(ANSWER, _link(answer="decline"), expires_at=NOW + timedelta(days=1))
    tag, payload, mac = token.split(".")
    # The payload changed (accept instead of decline, a later expiry): the MAC no longer fits.
    other = SIGNER.sign(ANSWER, _link(answer="accept"), expires_at=NOW + timedelta(days=9))
    with pytest.raises(BadToken) as refused:
        SIGNER.open(ANSWER, f"{tag}.{other.split('.')[1]}.{mac}", AnswerLink, now=NOW)
    assert refused.value.reason == "forged"
    # Signed with another key.
    with pytest.raises(BadToken):
        Signer("t" * 40).open(ANSWER, token, AnswerLink, now=NOW)
    for junk in ("", "a1", "a1..", token + "x", "a1.!!.??", "x" * 600, f"a2.{payload}.{mac}"):
        with pytest.raises(BadToken):
            SIGNER.open(ANSWER, junk, AnswerLink, now=NOW)
    with pytest.raises(BadToken):  # no key configured: no token is valid
        Signer("").open(ANSWER, token, AnswerLink, now=NOW)


def test_a_valid_signature_over_the_wrong_payload_is_malformed() -> None:
    class Other(BaseModel):
        meeting_id: uuid.UUID

    token = SIGNER.sign(ANSWER, Other(meeting_id=uuid.uuid4()), expires_at=None)
    with pytest.raises(BadToken) as refused:
        SIGNER.open(ANSWER, token, AnswerLink, now=NOW)
    assert refused.value.reason == "malformed"

    class Exp(BaseModel):
        exp: int

    with pytest.raises(ValueError, match="exp"):
        SIGNER.sign(ANSWER, Exp(exp=1), expires_at=None)


def test_tokens_carry_ids_only() -> None:
    import base64
    import json

    link = _link()
    token = SIGNER.sign(ANSWER, link, expires_at=NOW)
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(claims) == {"recipient_id", "match_id", "side", "answer", "exp"}
    assert len(token) < 300  # one query parameter in a link


# --- what match e-mails say ---------------------------------------------------------------


def _known(
    counterpart: str,
    score: float,
    *,
    seen: int = 0,
    changed: int = 0,
    status: str = "proposed",
) -> KnownMatch:
    return KnownMatch(
        match_id=uuid.uuid4(),
        counterpart=counterpart,
        score=score,
        reasons=("same sector: robotics",),
        status=status,  # type: ignore[arg-type]
        first_seen_at=NOW + timedelta(hours=seen),
        changed_at=NOW + timedelta(hours=changed),
    )


def test_the_first_list_holds_every_proposed_match_best_first() -> None:
    matches = [
        _known("B Bank", 0.6),
        _known("A Fund", 0.9),
        _known("Gone Ltd", 0.95, status="withdrawn"),
    ]
    lines = proposal_lines(matches)
    assert [(m.counterpart, m.news) for m in lines] == [("A Fund", "new"), ("B Bank", "new")]
    assert all(m.answerable for m in lines)


def test_a_digest_tells_what_changed_since_the_last_match_email() -> None:
    since = NOW + timedelta(hours=10)
    matches = [
        _known("Old news", 0.9, seen=1, changed=2),  # told before: not again
        _known("Rescored", 0.5, seen=1, changed=12),
        _known("Newcomer", 0.7, seen=11, changed=11),
        _known("Withdrew", 0.8, seen=1, changed=13, status="withdrawn"),
        _known("Came and went", 0.8, seen=11, changed=12, status="withdrawn"),  # never told
    ]
    lines = digest_lines(matches, since)
    assert [(m.counterpart, m.news) for m in lines] == [
        ("Newcomer", "new"),
        ("Rescored", "updated"),
        ("Withdrew", "withdrawn"),
    ]
    assert [m.answerable for m in lines] == [True, True, False]
    assert digest_lines(matches, NOW + timedelta(hours=20)) == []  # nothing changed: no digest


def test_a_digest_goes_at_most_once_a_day() -> None:
    settled = NOW + timedelta(minutes=5)  # the first change plus the settle time
    # The first one, or one after a quiet spell, goes once the burst has settled.
    assert match_mail_at(None, settled) == settled
    assert match_mail_at(NOW - timedelta(days=3), settled) == settled
    # Soon after the last match e-mail: a day after it.
    last = NOW - timedelta(hours=2)
    assert match_mail_at(last, settled) == last + timedelta(days=1)


def test_match_emails_are_not_transactional() -> None:
    assert category_of("proposals") == "matches"
    assert category_of("digest") == "digest"
    assert category_of("schedule") == "transactional"


def test_a_proposals_email_has_three_links_per_match_and_no_calendar() -> None:
    first = MatchLine(
        match_id=uuid.uuid4(),
        counterpart="Pudong <Bank>",
        score=0.82,
        reasons=["offers debt-financing"],
    )
    gone = MatchLine(match_id=uuid.uuid4(), counterpart="Gone Ltd", score=0.5, news="withdrawn")
    content = Content(
        kind="proposals",
        role="participant.contact",
        organisation="Autonomy Labs",
        roadshow_id=uuid.uuid4(),
        roadshow_name="Road show",
        venue="Caohejing",
        timezone="Asia/Shanghai",
        agenda=[],
        agenda_digest="",
        matches=[first, gone],
        side="participant",
    )
    links = {
        first.match_id: {
            "accept": "https://n.test/v1/email/answer?token=A",
            "decline": "https://n.test/v1/email/answer?token=D",
            "must-meet": "https://n.test/v1/email/answer?token=M",
        }
    }
    msg = build_message(
        content,
        Recipient(name="Avery", email="avery@example.test"),
        Identity("Roadshow <meetings@roadshow.test>", None, "https://n.test"),
        notification_id=uuid.uuid4(),
        unsubscribe_token="u1.a.b",
        now=NOW,
        answer_links=links,  # type: ignore[arg-type]
    )
    assert msg["X-Roadshow-Category"] == "matches"
    assert "please answer" in msg["Subject"]
    assert not [p for p in msg.iter_attachments()]  # no calendar: nothing is fixed yet
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "New: Pudong <Bank> (fit 82%)" in text and "why: offers debt-financing" in text
    labels = ("Accept", "Decline", "Must meet")
    for label, url in zip(labels, links[first.match_id].values(), strict=True):
        assert f"  {label}: {url}" in text
    assert "Withdrawn: Gone Ltd" in text and "nothing to answer" in text
    page = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Pudong &lt;Bank&gt;" in page and page.count("/v1/email/answer?token=") == 3
