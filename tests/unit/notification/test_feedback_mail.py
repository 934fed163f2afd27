"""Feedback by e-mail as pure parts: the link's signed payload (ids only, bound
to its purpose, expiring), the form's fields and the feedback rule they obey,
when a meeting is past asking about, and matching's rule for feedback that
arrives by e-mail."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.matching.feedback import model as mf
from services.notification.email.feedback import FeedbackChoice, check_choice
from services.notification.email.rules import (
    ANSWER,
    FEEDBACK,
    FeedbackLink,
    category_of,
    feedback_key,
    feedback_too_late,
)
from services.notification.email.tokens import BadToken, Signer
from services.notification.http.schemas import FeedbackForm
from shared.contracts.matching import feedback_problem
from shared.errors import InvalidInput

T0 = datetime(2027, 5, 15, 2, tzinfo=UTC)
SIGNER = Signer("unit-test-token-key-0123456789abcdef")


def _link() -> FeedbackLink:
    return FeedbackLink(recipient_id=uuid.uuid4(), meeting_id=uuid.uuid4(), side="participant")


def test_a_feedback_link_carries_ids_and_its_expiry_only() -> None:
    link = _link()
    token = SIGNER.sign(FEEDBACK, link, expires_at=T0 + timedelta(days=30))
    tag, payload, _mac = token.split(".")
    assert tag == "f1"
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims == {
        "recipient_id": str(link.recipient_id),
        "meeting_id": str(link.meeting_id),
        "side": "participant",
        "exp": int((T0 + timedelta(days=30)).timestamp()),
    }
    assert SIGNER.open(FEEDBACK, token, FeedbackLink, now=T0) == link


def test_a_feedback_link_opens_for_its_purpose_only_and_until_it_expires() -> None:
    link = _link()
    token = SIGNER.sign(FEEDBACK, link, expires_at=T0 + timedelta(days=30))
    with pytest.raises(BadToken) as exc:
        SIGNER.open(FEEDBACK, token, FeedbackLink, now=T0 + timedelta(days=30))
    assert exc.value.reason == "expired"
    # The same payload signed for answers is no feedback link, and the other way round.
    as_answer = SIGNER.sign(ANSWER, link, expires_at=None).replace("a1.", "f1.", 1)
    with pytest.raises(BadToken) as exc:
        SIGNER.open(FEEDBACK, as_answer, FeedbackLink, now=T0)
    assert exc.value.reason == "forged"
    with pytest.raises(BadToken):
        SIGNER.open(ANSWER, token, FeedbackLink, now=T0)
    # Another key's token: forged.
    with pytest.raises(BadToken) as exc:
        Signer("another-key-0123456789abcdef0123456").open(FEEDBACK, token, FeedbackLink, now=T0)
    assert exc.value.reason == "forged"


def test_the_form_reads_blank_choices_as_none_and_names_a_bad_field() -> None:
    form = FeedbackForm.model_validate({"took_place": "no-show", "interest": "", "next_step": ""})
    assert (form.took_place, form.interest, form.next_step) == ("no-show", None, None)
    for bad, name in (
        ({"took_place": "late"}, "took_place"),
        ({}, "took_place"),
        ({"took_place": "held", "interest": "maybe"}, "interest"),
        ({"took_place": "held", "interest": "high", "next_step": "lunch"}, "next_step"),
        ({"took_place": "held", "interest": "high", "note": "call me"}, "note"),
        ({"took_place": ["held", "no-show"]}, "took_place"),
    ):
        with pytest.raises(ValidationError) as exc:
            FeedbackForm.model_validate(bad)
        assert exc.value.errors()[0]["loc"][0] == name, bad


def test_a_choice_obeys_the_feedback_rule_matching_applies_too() -> None:
    assert check_choice(FeedbackChoice("held", "high")) == FeedbackChoice("held", "high", "none")
    assert check_choice(FeedbackChoice("held", "low", "site-visit")).next_step == "site-visit"
    assert check_choice(FeedbackChoice("cancelled")) == FeedbackChoice("cancelled")
    for bad, name in (
        (FeedbackChoice("held"), "interest"),
        (FeedbackChoice("no-show", interest="none"), "interest"),
        (FeedbackChoice("cancelled", next_step="none"), "next_step"),
    ):
        with pytest.raises(InvalidInput) as exc:
            check_choice(bad)
        assert exc.value.field == name
        # The same refusal, naming the same field, as matching's API gives.
        problem = feedback_problem(bad.took_place, bad.interest, bad.next_step)
        assert problem is not None and problem[0] == name
        with pytest.raises(InvalidInput) as api:
            mf.check_feedback(mf.RecordFeedback(bad.took_place, bad.interest, bad.next_step))
        assert api.value.field == name


def test_one_request_per_meeting_and_person_and_none_long_after() -> None:
    meeting, person = uuid.uuid4(), uuid.uuid4()
    assert feedback_key(meeting, person) == feedback_key(meeting, person)
    assert feedback_key(meeting, person) != feedback_key(meeting, uuid.uuid4())
    assert category_of("feedback") == "feedback"
    week = 7 * 86_400
    assert not feedback_too_late(T0, T0, week)
    assert not feedback_too_late(T0, T0 + timedelta(seconds=week), week)
    assert feedback_too_late(T0, T0 + timedelta(seconds=week + 1), week)


def _on_file(recorded_at: datetime) -> mf.Feedback:
    return mf.Feedback(
        meeting_id=uuid.uuid4(),
        roadshow_id=uuid.uuid4(),
        side="participant",
        took_place="held",
        interest="low",
        next_step="none",
        note="from the partner",
        version=1,
        recorded_at=recorded_at,
    )


def test_matching_takes_feedback_by_email_on_a_published_meeting_that_started() -> None:
    starts = T0
    later = T0 + timedelta(hours=1)
    assert mf.email_feedback_refusal(True, starts, None, later) is None
    assert mf.email_feedback_refusal(None, None, None, later) == "unknown_meeting"
    assert mf.email_feedback_refusal(False, starts, None, later) == "not_on_schedule"
    assert mf.email_feedback_refusal(True, starts, None, starts - timedelta(1)) == "not_started"
    # The later word wins: the partner's PUT after the person sent the form stands.
    assert mf.email_feedback_refusal(True, starts, _on_file(later), T0) == "superseded"
    assert mf.email_feedback_refusal(True, starts, _on_file(T0), later) is None
