"""Rescoring one party as a pure decision: which of its matches are proposed,
updated or withdrawn against what was last published."""

from __future__ import annotations

import uuid
from decimal import Decimal

from services.matching.scoring import model as d
from services.matching.scoring import plan
from shared.contracts.matching import Match
from shared.taxonomy import ParticipantKind

ROADSHOW = uuid.uuid4()
W = d.Weights()


def _enterprise(partner: uuid.UUID | None = None) -> d.EnterpriseProfile:
    return d.EnterpriseProfile(
        enterprise_id=uuid.uuid4(),
        sectors=("robotics",),
        stage="series-a",
        funding_amount=Decimal(5_000_000),
        funding_currency="USD",
        partnership_types=("equity-investment",),
        summary="Warehouse robotics for logistics networks",
        partner_id=partner,
    )


def _fund(**changes: object) -> d.ParticipantProfile:
    values: dict[str, object] = {
        "participant_id": uuid.uuid4(),
        "kind": ParticipantKind.FUND,
        "sectors": ("robotics",),
        "stages": ("series-a",),
        "ticket_min": Decimal(1_000_000),
        "ticket_max": Decimal(10_000_000),
        "currency": "USD",
        "offers": ("equity-investment",),
        "focus": "robotics and logistics",
        **changes,
    }
    return d.ParticipantProfile(**values)  # type: ignore[arg-type]


def _published(change: plan.MatchChange, **update: object) -> Match:
    return change.match.model_copy(update=update)


def test_a_new_party_is_proposed_to_the_counterparts_above_the_threshold() -> None:
    partner = uuid.uuid4()
    e = _enterprise(partner)
    near, far = _fund(partner_id=uuid.uuid4()), _fund(sectors=("biotech",), offers=(), focus="")
    r = plan.Rescoring("enterprise", ROADSHOW, [e], [near, far])
    (change,) = plan.plan_rescore(r, [], W, threshold=0.45, delta=0.05)
    m = change.match
    assert change.event_type == "match.proposed" and m.status == "proposed" and m.version == 1
    assert m.participant_id == near.participant_id and m.roadshow_id == ROADSHOW
    assert m.enterprise_partner_id == partner and m.participant_partner_id == near.partner_id
    assert abs(m.score - sum(c.score * c.weight for c in m.components)) < 1e-3


def test_small_moves_are_not_republished_large_ones_are_and_falling_below_withdraws() -> None:
    e, p = _enterprise(), _fund()
    r = plan.Rescoring("participant", ROADSHOW, [e], [p])
    (first,) = plan.plan_rescore(r, [], W, 0.45, 0.05)
    same = _published(first)
    assert plan.plan_rescore(r, [same], W, 0.45, 0.05) == []
    moved = _published(first, score=first.match.score - 0.2)
    (update,) = plan.plan_rescore(r, [moved], W, 0.45, 0.05)
    assert update.event_type == "match.updated" and update.match.version == 2
    (gone,) = plan.plan_rescore(r, [same], W, threshold=1.01, delta=0.05)  # above any score
    assert gone.event_type == "match.withdrawn" and gone.match.status == "withdrawn"
    assert gone.match.version == 2


def test_matches_of_counterparts_no_longer_active_are_withdrawn() -> None:
    e, p = _enterprise(), _fund()
    (first,) = plan.plan_rescore(
        plan.Rescoring("enterprise", ROADSHOW, [e], [p]), [], W, 0.45, 0.05
    )
    alone = plan.Rescoring("enterprise", ROADSHOW, [e], [])
    (gone,) = plan.plan_rescore(alone, [_published(first)], W, 0.45, 0.05)
    assert gone.event_type == "match.withdrawn" and gone.match.match_id == first.match.match_id
    # Already withdrawn: nothing to say again.
    assert plan.plan_rescore(alone, [gone.match], W, 0.45, 0.05) == []


def test_a_party_that_leaves_withdraws_only_its_proposed_matches() -> None:
    e, p, q = _enterprise(), _fund(), _fund()
    proposed = plan.plan_rescore(
        plan.Rescoring("enterprise", ROADSHOW, [e], [p, q]), [], W, 0.45, 0.05
    )
    live, already = proposed[0].match, proposed[1].match.model_copy(update={"status": "withdrawn"})
    (change,) = plan.plan_withdrawal([live, already])
    assert change.event_type == "match.withdrawn"
    assert change.match == live.model_copy(
        update={"status": "withdrawn", "version": live.version + 1}
    )
