"""The consumer side on a real database, without a broker: events in any order,
stale versions, duplicates, withdrawals; what is stored and what is staged in
the outbox."""

from __future__ import annotations

import uuid

from shared.contracts.matching import Match, match_id_for
from tests.factories import PEOPLE
from tests.integration.matching.conftest import (
    Store,
    dump_database,
    enterprise_contract,
    participant_contract,
    roadshow_contract,
    withdrawn,
)


async def _matches(store: Store) -> dict[uuid.UUID, tuple[str, float, int]]:
    rows = await store.conn.fetch("SELECT match_id, status, score, version FROM matches")
    return {r["match_id"]: (r["status"], r["score"], r["version"]) for r in rows}


async def test_parties_before_their_roadshow_are_scored_and_kept(store: Store) -> None:
    rid, organiser, partner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    enterprise = enterprise_contract(rid)
    fund = participant_contract(rid, "fund")
    # Registration keys events by aggregate: these may arrive in any order.
    assert await store.deliver("enterprise.registered", enterprise, partner)
    assert await _matches(store) == {}  # nobody to match with yet
    assert await store.deliver("participant.registered", fund, organiser)
    pair = match_id_for(enterprise.enterprise_id, fund.participant_id)
    assert (await _matches(store))[pair][0] == "proposed"
    assert await store.deliver("roadshow.created", roadshow_contract(rid), organiser)

    (event,) = await store.outbox("match.proposed")
    match = Match.model_validate(event["data"])
    assert event["key"] == str(pair) and match.match_id == pair
    assert match.enterprise_partner_id == partner and match.participant_partner_id == organiser
    assert abs(match.score - sum(c.score * c.weight for c in match.components)) < 1e-3
    assert {c.name for c in match.components} == {
        "sector_fit",
        "stage_fit",
        "ticket_fit",
        "partnership_fit",
        "text_similarity",
    }
    # Correlation and causation travel from the registration event.
    assert event["causation_id"] and event["correlation_id"].startswith("test-")


async def test_stale_and_duplicate_events_change_nothing(store: Store) -> None:
    rid, partner = uuid.uuid4(), uuid.uuid4()
    eid = uuid.uuid4()
    fund = participant_contract(rid, "fund")
    await store.deliver("participant.registered", fund, partner)
    v1 = enterprise_contract(rid, eid, version=1)
    # v2 no longer seeks equity and is in an unrelated sector: below the threshold.
    v2 = enterprise_contract(
        rid,
        eid,
        version=2,
        sectors=["biotech"],
        project={"partnership_types": ["manufacturing"], "summary": "Enzymes."},
    )
    await store.deliver("enterprise.updated", v2, partner)
    await store.deliver("enterprise.registered", v1, partner)  # late and older: ignored
    assert await _matches(store) == {}
    row = await store.conn.fetchrow("SELECT version, sectors FROM enterprises WHERE id = $1", eid)
    assert row["version"] == 2 and row["sectors"] == ["biotech"]

    # A redelivered event (same id) is absorbed by the inbox.
    v3 = enterprise_contract(rid, eid, version=3)
    from shared.envelope import Context, new_event

    envelope = new_event(
        "registration", Context("c", partner_id=partner), "enterprise.updated", eid, v3
    )
    assert await store.redeliver(envelope) is True
    before = await store.outbox()
    assert await store.redeliver(envelope) is False
    assert await store.outbox() == before
    assert len(await store.outbox("match.proposed")) == 1


async def test_withdrawal_seen_first_leaves_a_tombstone(store: Store) -> None:
    rid, partner = uuid.uuid4(), uuid.uuid4()
    pid = uuid.uuid4()
    await store.deliver("enterprise.registered", enterprise_contract(rid), partner)
    await store.deliver("participant.withdrawn", withdrawn(pid, rid, 2), partner)
    await store.deliver("participant.registered", participant_contract(rid, participant_id=pid))
    assert await _matches(store) == {}


async def test_scores_move_materially_or_not_at_all_then_withdraw(store: Store) -> None:
    rid, partner = uuid.uuid4(), uuid.uuid4()
    eid = uuid.uuid4()
    bank = participant_contract(rid, "bank")
    await store.deliver("participant.registered", bank, partner)
    await store.deliver("enterprise.registered", enterprise_contract(rid, eid), partner)
    pair = match_id_for(eid, bank.participant_id)
    status, first, version = (await _matches(store))[pair]
    assert (status, version) == ("proposed", 1)

    # A long summary sharing one word with the bank's focus: a small move (< 0.05),
    # so nothing is republished and the stored match stays what was published.
    summary = (
        "Camera-only perception and planning for delivery vehicles in dense cities, with fleet"
        " telemetry, mapping, simulation, safety cases and remote operations for robotics."
    )
    await store.deliver(
        "enterprise.updated",
        enterprise_contract(rid, eid, version=2, project={"summary": summary}),
        partner,
    )
    status, score, version = (await _matches(store))[pair]
    assert version == 1 and score == first
    # The bank's focus now speaks the project's language: a material move.
    focus = "Banking for robotics and AI companies: delivery vehicles, perception, dense cities."
    await store.deliver(
        "participant.updated",
        participant_contract(rid, "bank", bank.participant_id, version=2, focus=focus),
        partner,
    )
    status, score, version = (await _matches(store))[pair]
    assert (status, version) == ("proposed", 2) and score >= first + 0.05
    (updated,) = await store.outbox("match.updated")
    assert updated["data"]["version"] == 2

    # Offering nothing sought drops it below the threshold: withdrawn, with the
    # components that explain why.
    await store.deliver(
        "participant.updated",
        participant_contract(
            rid,
            "bank",
            bank.participant_id,
            version=3,
            offers=["trade-finance"],
            sectors=["biotech"],
        ),
        partner,
    )
    assert (await _matches(store))[pair][0] == "withdrawn"
    (gone,) = await store.outbox("match.withdrawn")
    assert gone["data"]["status"] == "withdrawn" and gone["data"]["version"] == 3
    reasons = {c["name"]: c["reason"] for c in gone["data"]["components"]}
    assert reasons["partnership_fit"].startswith("offers none of the partnership types")

    # Back in: proposed again under the same id, the version still counting up.
    await store.deliver(
        "participant.updated",
        participant_contract(rid, "bank", bank.participant_id, version=4),
        partner,
    )
    assert (await _matches(store))[pair][::2] == ("proposed", 4)


async def test_withdrawn_party_loses_every_match(store: Store) -> None:
    rid, partner = uuid.uuid4(), uuid.uuid4()
    funds = [participant_contract(rid, "fund") for _ in range(3)]
    for fund in funds:
        await store.deliver("participant.registered", fund, partner)
    enterprise = enterprise_contract(rid)
    await store.deliver("enterprise.registered", enterprise, partner)
    assert len(await store.outbox("match.proposed")) == 3
    await store.deliver(
        "enterprise.withdrawn", withdrawn(enterprise.enterprise_id, rid, 2), partner
    )
    assert {s for s, _, _ in (await _matches(store)).values()} == {"withdrawn"}
    assert len(await store.outbox("match.withdrawn")) == 3
    # Registered after the withdrawal with an older version: stays withdrawn.
    await store.deliver("enterprise.registered", enterprise, partner)
    assert {s for s, _, _ in (await _matches(store)).values()} == {"withdrawn"}


async def test_no_personal_data_is_kept(store: Store) -> None:
    rid, partner = uuid.uuid4(), uuid.uuid4()
    enterprise = enterprise_contract(rid)
    participant = participant_contract(rid, "bank")
    await store.deliver("enterprise.registered", enterprise, partner)
    await store.deliver("participant.registered", participant, partner)
    from shared.contracts.registration import ErasedSubject, PersonErased

    await store.deliver(
        "person.erased",
        PersonErased(
            erasure_id=uuid.uuid4(),
            subjects=[ErasedSubject(kind="enterprise.president", id=enterprise.enterprise_id)],
        ),
        partner,
    )
    dump = await dump_database(store.conn)
    assert str(enterprise.enterprise_id) in dump  # the dump does hold the data
    people = {enterprise.president.name, enterprise.president.email, participant.contact.email}
    assert people <= PEOPLE
    assert [p for p in people if p and p in dump] == []
