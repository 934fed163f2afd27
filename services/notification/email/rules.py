"""E-mail rules as plain functions over plain data (no I/O): who a recipient is,
what a message says (its stored content), what makes two messages the same one,
when the reminder is due and how an SMTP answer ends an attempt."""

from __future__ import annotations

import functools
import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.notification.email.tokens import Purpose
from services.notification.outbound.policy import AttemptOutcome
from shared.contracts.matching import (
    Attendance,
    InterestAnswer,
    InterestLevel,
    MatchComponent,
    MeetingStatus,
    NextStep,
    Side,
)
from shared.contracts.registration import Enterprise, ErasedKind, Participant

# Whose e-mail: the president of an enterprise, the contact of a participant
# (the same kinds registration names in a person's erasure).
Role = ErasedKind
PRESIDENT: Role = "enterprise.president"
CONTACT: Role = "participant.contact"

EmailKind = Literal["schedule", "change", "reminder", "proposals", "digest", "feedback"]
# Schedule and change notices are transactional (the person needs them to be at
# the right table at the right time); the reminder is a courtesy. A person's
# first list of proposed matches asks them to act ("matches"); the daily digest
# of what changed since is a courtesy too ("digest"), as is the request for
# feedback after a meeting ("feedback").
Category = Literal["transactional", "reminder", "matches", "digest", "feedback"]
# Match e-mails: the kinds that list matches with answer links, not an agenda.
MATCH_KINDS: frozenset[EmailKind] = frozenset({"proposals", "digest"})
# What a match e-mail says of one match, since the person's last one.
MatchNews = Literal["new", "updated", "withdrawn"]
# What a change notice tells of a meeting the person already knew about.
Change = Literal["moved", "cancelled"]

_RECIPIENT_NAMESPACE = uuid.UUID("0b7f6a52-3c1e-4f0e-9d7a-6a1e2f3b4c5d")


def party_role(data: Participant | Enterprise) -> tuple[Role, uuid.UUID]:
    """Whose person a party's event carries: its president or its contact."""
    if isinstance(data, Enterprise):
        return PRESIDENT, data.enterprise_id
    return CONTACT, data.participant_id


# Asked twice for every match change a rush brings (both sides' people), of the
# same few thousand parties: the hash is worked out once per party.
@functools.lru_cache(maxsize=65_536)
def recipient_id(role: Role, party_id: uuid.UUID) -> uuid.UUID:
    """A role's recipient id, derived so every handler names it alike without a
    lookup: the president of an enterprise, the contact of a participant."""
    return uuid.uuid5(_RECIPIENT_NAMESPACE, f"{role}:{party_id}")


def category_of(kind: EmailKind) -> Category:
    if kind == "proposals":
        return "matches"
    if kind in ("reminder", "digest", "feedback"):
        return kind
    return "transactional"


def side_of(role: Role) -> Side:
    """The side of a match a role's person answers for."""
    return "enterprise" if role == PRESIDENT else "participant"


# --- stored content -------------------------------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class MeetingLine(_Frozen):
    """One meeting as a person sees it: when, where, with which organisation."""

    meeting_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    table: int
    slot: int
    sequence: int
    status: MeetingStatus
    counterpart: str  # the other side's organisation (never a person)
    # Added (issue 12): the venue and the table there; the interpreter's languages.
    venue: str | None = None
    venue_table: int | None = None
    interpreter_languages: list[str] = Field(default_factory=list)
    reasons: list[str] = []  # why the two meet, strongest first

    def place(self) -> str:
        """Where, as a person reads it: "Zhangjiang, table 2", or "table 2"."""
        table = f"table {self.venue_table or self.table}"
        return f"{self.venue}, {table}" if self.venue else table

    def interpreter(self) -> str:
        """ "interpreter (en/zh)", or nothing: the languages, never the person."""
        if not self.interpreter_languages:
            return ""
        return f"interpreter ({'/'.join(self.interpreter_languages)})"


# Reasons an e-mail gives per meeting: enough to say why, short enough to read.
REASONS_PER_MEETING = 3


def why(components: Iterable[MatchComponent]) -> list[str]:
    """The reasons of a match's components that count most towards its score
    (weight x score), strongest first; those adding nothing are left out."""
    counted = [c for c in components if c.weight > 0 and c.score > 0]
    counted.sort(key=lambda c: c.weight * c.score, reverse=True)
    return [c.reason for c in counted[:REASONS_PER_MEETING]]


class Previous(_Frozen):
    starts_at: datetime
    ends_at: datetime
    table: int


class MatchLine(_Frozen):
    """One match as a person's match e-mail shows it: with which organisation,
    how good, why, and what is new about it. Answerable unless withdrawn."""

    match_id: uuid.UUID
    counterpart: str  # the other side's organisation (never a person)
    score: float
    reasons: list[str] = []
    news: MatchNews = "new"

    @property
    def answerable(self) -> bool:
        return self.news != "withdrawn"


class Content(_Frozen):
    """What a message says, stored as the notification's body. It holds no name
    or address of a person: those are read from `recipients` when it is sent,
    so an erasure has one table to clear."""

    kind: EmailKind
    role: Role
    organisation: str  # the recipient's own organisation
    roadshow_id: uuid.UUID
    roadshow_name: str
    venue: str
    timezone: str
    agenda: list[MeetingLine]  # the person's meetings as published, now
    change: Change | None = None
    changed: MeetingLine | None = None
    previous: Previous | None = None
    agenda_digest: str
    # Match e-mails (MATCH_KINDS): the matches, and the side the person answers for.
    matches: list[MatchLine] = []
    side: Side | None = None
    since: datetime | None = None  # a digest: the changes after this moment
    told_at: datetime | None = None  # the news it holds is as of this moment
    # A feedback e-mail: the meeting that ended, as the person knew it.
    meeting: MeetingLine | None = None

    def to_json(self) -> str:
        return self.model_dump_json()


def agenda_digest(agenda: Iterable[MeetingLine]) -> str:
    """Fingerprint of what a person has been told: the same agenda, the same
    digest, whatever order it was read in."""
    parts = sorted(
        f"{m.meeting_id}|{m.starts_at.isoformat()}|{m.ends_at.isoformat()}|{m.table}"
        for m in agenda
        if m.status == "scheduled"
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


# --- what makes two messages the same one ----------------------------------------------


def schedule_key(schedule_id: uuid.UUID, recipient: uuid.UUID) -> str:
    return f"schedule:{schedule_id}:{recipient}"


def move_key(event_id: uuid.UUID, recipient: uuid.UUID) -> str:
    # A repeated move event is the inbox's to absorb; a second event moving the
    # meeting to where it already is changes nothing and makes no message.
    return f"moved:{event_id}:{recipient}"


def cancel_key(meeting_id: uuid.UUID, recipient: uuid.UUID) -> str:
    # A meeting is cancelled once, however many events say so.
    return f"cancelled:{meeting_id}:{recipient}"


def reminder_key(roadshow_id: uuid.UUID, recipient: uuid.UUID) -> str:
    # One reminder per person and road show, kept up to date until it is sent.
    return f"reminder:{roadshow_id}:{recipient}"


def proposals_key(roadshow_id: uuid.UUID, recipient: uuid.UUID) -> str:
    # One first list of proposed matches per person and road show.
    return f"proposals:{roadshow_id}:{recipient}"


def digest_key(roadshow_id: uuid.UUID, recipient: uuid.UUID, due: datetime) -> str:
    # At most one digest per person, road show and due moment.
    return f"digest:{roadshow_id}:{recipient}:{due.isoformat()}"


def feedback_key(meeting_id: uuid.UUID, recipient: uuid.UUID) -> str:
    # One feedback request per meeting and person, however often it is seen over.
    return f"feedback:{meeting_id}:{recipient}"


# --- match e-mails ---------------------------------------------------------------------

DAY = 86_400.0


def match_mail_at(last_sent: datetime | None, due_at: datetime) -> datetime:
    """When a person's match e-mail is made: once its changes have settled
    (`due_at`: the first change plus the settle time, so a burst of rescoring
    ends in one message), and never sooner than a day after their last match
    e-mail went (at most one digest a day)."""
    if last_sent is None:
        return due_at
    return max(due_at, last_sent + timedelta(seconds=DAY))


@dataclass(frozen=True)
class KnownMatch:
    """A match of the person's party as this service holds it."""

    match_id: uuid.UUID
    counterpart: str
    score: float
    reasons: tuple[str, ...]
    status: Literal["proposed", "withdrawn"]
    first_seen_at: datetime
    changed_at: datetime


def proposal_lines(matches: Iterable[KnownMatch]) -> list[MatchLine]:
    """A person's first list: every match still proposed, best first."""
    lines = [_line(m, "new") for m in matches if m.status == "proposed"]
    return sorted(lines, key=lambda m: (-m.score, m.counterpart, m.match_id))


def digest_lines(matches: Iterable[KnownMatch], since: datetime) -> list[MatchLine]:
    """What changed after `since` (the person's last match e-mail): matches new
    since, updated since, withdrawn since. A match both new and withdrawn since
    was never told and is left out. New first, then updated, then withdrawn;
    best first within each."""
    order = {"new": 0, "updated": 1, "withdrawn": 2}
    lines = []
    for m in matches:
        if m.changed_at <= since:
            continue
        new = m.first_seen_at > since
        if m.status == "withdrawn":
            if not new:
                lines.append(_line(m, "withdrawn"))
        else:
            lines.append(_line(m, "new" if new else "updated"))
    return sorted(lines, key=lambda m: (order[m.news], -m.score, m.counterpart, m.match_id))


def _line(m: KnownMatch, news: MatchNews) -> MatchLine:
    return MatchLine(
        match_id=m.match_id,
        counterpart=m.counterpart,
        score=m.score,
        reasons=list(m.reasons),
        news=news,
    )


# The purpose of answer links' tokens (see email.tokens).
ANSWER = Purpose("match-answer", tag="a1")


class AnswerLink(_Frozen):
    """What an answer link's signed token carries: which role answers, for
    which side of which match, what. Ids only, nothing personal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recipient_id: uuid.UUID
    match_id: uuid.UUID
    side: Side
    answer: InterestAnswer


ANSWER_LABELS: dict[InterestAnswer, str] = {
    "accept": "Accept",
    "decline": "Decline",
    "must-meet": "Must meet",
}


# --- feedback after a meeting -------------------------------------------------------------

# The purpose of feedback links' tokens (see email.tokens).
FEEDBACK = Purpose("meeting-feedback", tag="f1")


class FeedbackLink(_Frozen):
    """What a feedback link's signed token carries: which role speaks for which
    side of which meeting. Ids only, nothing personal; what they say is the
    form's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    recipient_id: uuid.UUID
    meeting_id: uuid.UUID
    side: Side


TOOK_PLACE_LABELS: dict[Attendance, str] = {
    "held": "It took place",
    "no-show": "The other side did not come",
    "cancelled": "It was cancelled",
}
INTEREST_LABELS: dict[InterestLevel, str] = {
    "none": "None",
    "low": "Low",
    "medium": "Medium",
    "high": "High",
}
NEXT_STEP_LABELS: dict[NextStep, str] = {
    "none": "Nothing for now",
    "follow-up-call": "A follow-up call",
    "follow-up-meeting": "A follow-up meeting",
    "site-visit": "A site visit",
    "due-diligence": "Due diligence",
    "term-sheet": "A term sheet",
}


def feedback_too_late(ended_at: datetime, now: datetime, window: float) -> bool:
    """Whether a meeting that ended is past asking about: it ended more than
    `window` ago (seen over late, e.g. after a replay long after the road show),
    and a request now would only puzzle its people."""
    return now - ended_at > timedelta(seconds=window)


# --- reminders -------------------------------------------------------------------------------


def reminder_due(first_start: datetime, lead: float, now: datetime) -> datetime | None:
    """When the reminder before a person's first meeting goes out, or None when
    that moment has passed: the schedule or change notice they are getting now
    is recent enough, and a reminder after it would only repeat it."""
    due = first_start - timedelta(seconds=lead)
    return due if due > now else None


# --- SMTP answers ---------------------------------------------------------------------------


def outcome_of_smtp(code: int) -> AttemptOutcome:
    """A reply code that ended the conversation: 2xx delivered; 5xx is a
    permanent refusal (dead at once; redelivery is an operator's decision once
    the cause is fixed); 4xx and anything else is worth another try."""
    if 200 <= code < 300:
        return "delivered"
    if 500 <= code < 600:
        return "rejected"
    return "failed"
