"""A batch of match changes stands for the single events it replaces: each change
keeps an id of its own (the same however often it is published), its type and its
match's key; a pair's batches always share a key, so its changes keep their order."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from shared.contracts import parse_data
from shared.contracts.matching import (
    MATCH_SHARDS,
    Match,
    MatchChange,
    MatchesChanged,
    MatchStatus,
    match_change_id,
    match_id_for,
    match_shard_key,
    single_match_events,
)
from shared.envelope import Context, new_event
from shared.taxonomy import ParticipantKind

ROADSHOW = uuid.UUID(int=7)


def _match(version: int, status: MatchStatus = "proposed") -> Match:
    e, p = uuid.uuid4(), uuid.uuid4()
    return Match(
        match_id=match_id_for(e, p),
        roadshow_id=ROADSHOW,
        enterprise_id=e,
        participant_id=p,
        participant_kind=ParticipantKind.BANK,
        score=0.7,
        components=[],
        status=status,
        version=version,
    )


def test_each_change_of_a_batch_is_the_single_event_it_stands_for() -> None:
    changes = [
        MatchChange(type="match.proposed", match=_match(1)),
        MatchChange(type="match.withdrawn", match=_match(3, "withdrawn")),
    ]
    ctx = Context(correlation_id="flow-1", causation_id="cause-1")
    batch = new_event(
        "matching",
        ctx,
        "matches.changed",
        match_shard_key(ROADSHOW, changes[0].match.match_id),
        MatchesChanged(roadshow_id=ROADSHOW, changes=changes),
    )
    data = parse_data(batch)
    assert isinstance(data, MatchesChanged)
    singles = single_match_events(batch, data)
    assert [e.type for e, _ in singles] == ["match.proposed", "match.withdrawn"]
    for (event, match), change in zip(singles, changes, strict=True):
        assert event.id == match_change_id(change.match.match_id, change.match.version)
        assert event.key == str(change.match.match_id)
        assert (event.correlation_id, event.causation_id) == ("flow-1", "cause-1")
        assert event.occurred_at == batch.occurred_at
        assert parse_data(event) == match == change.match


@given(st.uuids(), st.uuids(), st.integers(1, 1000))
def test_a_pairs_changes_share_a_shard_and_each_version_has_its_own_id(
    roadshow: uuid.UUID, match: uuid.UUID, version: int
) -> None:
    assert match_shard_key(roadshow, match) == match_shard_key(roadshow, match)
    assert match_shard_key(roadshow, match).startswith(f"{roadshow}/")
    assert match_change_id(match, version) != match_change_id(match, version + 1)


def test_a_road_shows_matches_spread_over_every_shard() -> None:
    keys = {match_shard_key(ROADSHOW, uuid.uuid4()) for _ in range(200)}
    assert len(keys) == MATCH_SHARDS
