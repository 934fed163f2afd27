"""Every use case of matching, by bounded context, built once from settings:
the routes, the event handlers and the worker all call these."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.matching.clock import Clock, utc_now
from services.matching.feedback.service import AfterMeetings
from services.matching.interest.service import Interest
from services.matching.readmodel.service import ReadModel
from services.matching.scheduling.service import Scheduling
from services.matching.scoring.service import Scoring
from services.matching.settings import MatchingSettings


@dataclass(frozen=True)
class UseCases:
    readmodel: ReadModel
    scoring: Scoring
    interest: Interest
    scheduling: Scheduling
    after: AfterMeetings  # feedback, follow-ups and their figures

    @classmethod
    def from_settings(cls, settings: MatchingSettings, clock: Clock | None = None) -> UseCases:
        """`clock` (expiry, closing times, attendance, follow-ups) is injectable for tests."""
        scoring = Scoring.from_settings(settings)
        scheduling = Scheduling.from_settings(settings, clock)
        return cls(
            readmodel=ReadModel(scoring, scheduling),
            scoring=scoring,
            interest=Interest(clock or utc_now),
            scheduling=scheduling,
            after=AfterMeetings(
                delay=timedelta(days=settings.follow_up_delay_days), clock=clock or utc_now
            ),
        )
