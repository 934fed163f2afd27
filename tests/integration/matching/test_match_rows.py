"""`write_matches` stores what a rescoring's events say, in one statement: new
rows, changed rows, and a match listed twice in one call (the later wins)."""

from __future__ import annotations

import uuid

from services.matching.scoring import repository as repo
from shared.contracts.matching import Match, MatchComponent
from shared.taxonomy import ParticipantKind
from tests.integration.matching.conftest import Store


def _match(
    roadshow_id: uuid.UUID, score: float, version: int, reasons: list[str], **ids: uuid.UUID
) -> Match:
    return Match(
        match_id=ids.get("match_id", uuid.uuid4()),
        roadshow_id=roadshow_id,
        enterprise_id=ids.get("enterprise_id", uuid.uuid4()),
        participant_id=ids.get("participant_id", uuid.uuid4()),
        participant_kind=ParticipantKind.FUND,
        score=score,
        components=[
            MatchComponent(name="sector_fit", score=score, weight=0.5, reason=r) for r in reasons
        ],
        status="proposed",
        version=version,
    )


async def _stored(store: Store) -> dict[uuid.UUID, tuple[float, int, str, list[str]]]:
    rows = await store.conn.fetch(
        "SELECT match_id, score, version, status, components FROM matches"
    )
    return {
        r["match_id"]: (
            r["score"],
            r["version"],
            r["status"],
            [c["reason"] for c in r["components"]],
        )
        for r in rows
    }


async def test_new_changed_and_repeated_matches_are_stored_as_their_last_event_says(
    store: Store,
) -> None:
    rid = uuid.uuid4()
    kept = _match(rid, 0.4, 1, ['AI, "quoted" and 中文', ""])
    changed = _match(rid, 0.5, 1, ["first"])
    await repo.write_matches(store.conn, [kept, changed])

    again = changed.model_copy(update={"score": 0.9, "version": 2, "status": "withdrawn"})
    twice_first = _match(rid, 0.3, 1, ["older"])
    twice_last = twice_first.model_copy(update={"score": 0.7, "version": 2, "components": []})
    await repo.write_matches(store.conn, [again, twice_first, twice_last])

    assert await _stored(store) == {
        kept.match_id: (0.4, 1, "proposed", ['AI, "quoted" and 中文', ""]),
        changed.match_id: (0.9, 2, "withdrawn", ["first"]),
        twice_first.match_id: (0.7, 2, "proposed", []),
    }
    await repo.write_matches(store.conn, [])
    assert len(await _stored(store)) == 3
