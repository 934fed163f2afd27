"""Routing a run of matching events at once decides exactly what routing each
event alone decides (pure, no I/O): the batch handler may not change who hears
about what, only how many statements it takes."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from services.notification.parties.model import KnownEnterprise, KnownParticipant
from services.notification.webhooks.routing import (
    BOTH_SIDES,
    WEBHOOK_EVENT_TYPES,
    Concerning,
    Filters,
    Interested,
    RoutingPlan,
    could_want,
    plan_routing,
    wants,
)

ROADSHOW = uuid.UUID(int=1)
PARTNERS = [uuid.UUID(int=100 + i) for i in range(3)]
PARTICIPANTS = [uuid.UUID(int=200 + i) for i in range(5)]
ENTERPRISES = [uuid.UUID(int=300 + i) for i in range(4)]
SECTORS = ["ai", "robotics", "fintech", "biotech"]
KINDS = ["bank", "fund", "company"]


def _optional(values: st.SearchStrategy[frozenset[object]]) -> st.SearchStrategy[object]:
    return st.none() | values


filters = st.builds(
    Filters,
    event_types=st.frozensets(st.sampled_from(WEBHOOK_EVENT_TYPES), min_size=1),
    participant_ids=_optional(st.frozensets(st.sampled_from(PARTICIPANTS))),
    participant_kinds=_optional(st.frozensets(st.sampled_from(KINDS))),
    sectors=_optional(st.frozensets(st.sampled_from(SECTORS))),
    sides=st.sampled_from(
        [
            frozenset({"participant"}),
            frozenset({"enterprise"}),
            frozenset({"participant", "enterprise"}),
        ]
    ),
    enterprise_ids=_optional(st.frozensets(st.sampled_from(ENTERPRISES))),
)
subscriptions = st.lists(
    st.builds(
        Interested,
        id=st.uuids(),
        partner_id=st.sampled_from(PARTNERS),
        filters=filters,
    ),
    max_size=8,
    unique_by=lambda s: s.id,
)
events = st.lists(
    st.builds(
        Concerning,
        event_type=st.sampled_from(WEBHOOK_EVENT_TYPES),
        participant_id=st.sampled_from(PARTICIPANTS),
        enterprise_id=st.sampled_from(ENTERPRISES),
        # Most events concern both sides; a side's feedback only that side.
        sides=st.sampled_from(
            [BOTH_SIDES, BOTH_SIDES, frozenset({"participant"}), frozenset({"enterprise"})]
        ),
    ),
    max_size=30,
)


@st.composite
def participants(draw: st.DrawFn) -> dict[uuid.UUID, KnownParticipant]:
    known = draw(st.lists(st.sampled_from(PARTICIPANTS), unique=True))
    return {
        pid: KnownParticipant(
            id=pid,
            partner_id=draw(st.sampled_from(PARTNERS)),
            roadshow_id=ROADSHOW,
            name=f"participant {pid.int}",
            sectors=tuple(draw(st.lists(st.sampled_from(SECTORS), unique=True))),
            status="active",
            kind=draw(st.sampled_from(KINDS)),
        )
        for pid in known
    }


@st.composite
def enterprises(draw: st.DrawFn) -> dict[uuid.UUID, KnownEnterprise]:
    known = draw(st.lists(st.sampled_from(ENTERPRISES), unique=True))
    return {
        eid: KnownEnterprise(
            id=eid,
            partner_id=draw(st.sampled_from([None, *PARTNERS])),
            roadshow_id=ROADSHOW,
            name=f"enterprise {eid.int}",
            sectors=tuple(draw(st.lists(st.sampled_from(SECTORS), unique=True))),
            status="active",
            country="CN",
        )
        for eid in known
    }


def _alone(
    event: Concerning,
    known_participants: dict[uuid.UUID, KnownParticipant],
    known_enterprises: dict[uuid.UUID, KnownEnterprise],
    subs: list[Interested],
) -> tuple[bool, list[uuid.UUID]]:
    """Routing one event alone: is it held, and which active subscriptions (in
    creation order) want it: of the participant's partner for the participant
    side, of the enterprise's partner for the enterprise side; only of the
    sides the event is for."""
    participant = known_participants.get(event.participant_id)
    enterprise = known_enterprises.get(event.enterprise_id)
    if participant is None or enterprise is None:
        # Held unless nobody of a known participant's partner could want it, and
        # no enterprise-side subscription takes its type (the enterprise's
        # partner is not known yet).
        theirs = [] if participant is None else subs
        might = (
            participant is None
            or any(
                "enterprise" in s.filters.sides
                and "enterprise" in event.sides
                and event.event_type in s.filters.event_types
                for s in subs
            )
            or any(
                s.partner_id == participant.partner_id
                and "participant" in s.filters.sides
                and "participant" in event.sides
                and could_want(s.filters, event.event_type, participant.party)
                for s in theirs
            )
        )
        return might, []
    return False, [
        s.id
        for s in subs
        if (
            (
                "participant" in s.filters.sides & event.sides
                and s.partner_id == participant.partner_id
            )
            or (
                "enterprise" in s.filters.sides & event.sides
                and s.partner_id == enterprise.partner_id
            )
        )
        and wants(s.filters, event.event_type, participant.party, enterprise.party)
    ]


@settings(max_examples=300, deadline=None)
@given(events, participants(), enterprises(), subscriptions)
def test_a_batch_routes_as_each_event_alone(
    batch: list[Concerning],
    known_participants: dict[uuid.UUID, KnownParticipant],
    known_enterprises: dict[uuid.UUID, KnownEnterprise],
    subs: list[Interested],
) -> None:
    enterprise_side = frozenset(
        t for s in subs if "enterprise" in s.filters.sides for t in s.filters.event_types
    )
    plan = plan_routing(batch, known_participants, known_enterprises, subs, enterprise_side)
    expected = RoutingPlan()
    for i, event in enumerate(batch):
        held, wanted = _alone(event, known_participants, known_enterprises, subs)
        if held:
            expected.hold.append(i)
        expected.deliveries.extend((i, s) for s in wanted)
        # And the batch of one is the same decision as the event in the batch.
        one = plan_routing([event], known_participants, known_enterprises, subs, enterprise_side)
        assert one.hold == ([0] if held else [])
        assert one.deliveries == [(0, s) for s in wanted]
    assert plan == expected


@settings(max_examples=300, deadline=None)
@given(filters, participants(), enterprises(), st.sampled_from(WEBHOOK_EVENT_TYPES))
def test_could_want_is_false_only_when_no_enterprise_is_wanted(
    f: Filters,
    known_participants: dict[uuid.UUID, KnownParticipant],
    known_enterprises: dict[uuid.UUID, KnownEnterprise],
    event_type: str,
) -> None:
    """Dropping an event that waits for its enterprise is safe: when `could_want`
    says no, `wants` says no for every enterprise there is."""
    for participant in known_participants.values():
        if not could_want(f, event_type, participant.party):
            assert not any(
                wants(f, event_type, participant.party, e.party) for e in known_enterprises.values()
            )


def test_nobody_subscribed_means_nothing_written_or_held() -> None:
    partner = PARTNERS[0]
    participant = KnownParticipant(
        id=PARTICIPANTS[0],
        partner_id=partner,
        roadshow_id=ROADSHOW,
        name="bank",
        sectors=("ai",),
        status="active",
        kind="bank",
    )
    batch = [Concerning("match.proposed", PARTICIPANTS[0], e) for e in ENTERPRISES]
    # Two of the enterprises are not known yet: still nobody could want them.
    known_enterprises = {
        e: KnownEnterprise(
            id=e,
            partner_id=None,
            roadshow_id=ROADSHOW,
            name="e",
            sectors=("ai",),
            status="active",
            country="CN",
        )
        for e in ENTERPRISES[:2]
    }
    other = Interested(uuid.uuid4(), PARTNERS[1], Filters(frozenset({"match.proposed"})))
    wrong_type = Interested(uuid.uuid4(), partner, Filters(frozenset({"meeting.scheduled"})))
    plan = plan_routing(
        batch, {participant.id: participant}, known_enterprises, [other, wrong_type]
    )
    assert plan == RoutingPlan()
