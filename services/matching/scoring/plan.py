"""Which matches change, as pure functions over scores (no I/O).

A block is some enterprises scored against some participants at once (one new
enterprise against every participant is one row of the score matrix; a burst of
registrations is a few rows, or columns). Each scored pair is compared with what
was last published for it: above the threshold it is proposed (or updated when
its score moved by at least `delta`), below it a proposed match is withdrawn.
Large blocks are scored in chunks of rows, so memory stays bounded whatever the
burst; the decision stays in arrays (`PlannedPairs`), and reasons (`explain`)
are written only for the pairs that change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from services.matching.scoring.index import take_rows
from services.matching.scoring.model import (
    COMPONENTS,
    BoolArray,
    EnterpriseFeatures,
    EnterpriseProfile,
    FloatArray,
    IntArray,
    ParticipantFeatures,
    ParticipantProfile,
    Weights,
    enterprise_features,
    explain,
    participant_features,
    score,
)
from shared.contracts.matching import Match, MatchEventType, Side, match_id_for

# Pairs scored at once: the score arrays of one chunk stay around 8 MB each.
CHUNK_CELLS = 1 << 20


@dataclass(frozen=True)
class Changes:
    """Indexes (into the scored counterparts) of matches to propose, update, withdraw."""

    proposed: IntArray
    updated: IntArray
    withdrawn: IntArray


def plan_changes(
    new: FloatArray, old: FloatArray, active: BoolArray, threshold: float, delta: float
) -> Changes:
    """Compare fresh scores with what was last published per counterpart (`old`
    score, `active` when currently proposed). Above the threshold: propose what is
    not active, update what moved by at least `delta`; below: withdraw."""
    above = new >= threshold
    moved = np.abs(new - np.nan_to_num(old, nan=-1.0)) >= delta - 1e-9
    return Changes(
        proposed=np.flatnonzero(above & ~active),
        updated=np.flatnonzero(above & active & moved),
        withdrawn=np.flatnonzero(~above & active),
    )


@dataclass(frozen=True)
class MatchChange:
    """A match to publish: the event that announces it and what it says."""

    event_type: MatchEventType
    match: Match


@dataclass(frozen=True)
class PairChange:
    """A scored pair whose match changes, before its reasons are written."""

    event_type: MatchEventType
    enterprise_id: uuid.UUID
    participant_id: uuid.UUID
    score: float
    components: dict[str, float]
    applicable: dict[str, bool]
    previous: Match | None  # what was last published for the pair


@dataclass(frozen=True)
class PlannedPairs:
    """The pairs whose match changes, as arrays (entry k is one pair): a burst can
    change tens of thousands of pairs, and deciding them stays vectorised."""

    event_types: list[MatchEventType]
    enterprise_ids: list[uuid.UUID]
    participant_ids: list[uuid.UUID]
    scores: FloatArray  # (K,)
    components: FloatArray  # (K, components)
    applicable: BoolArray  # (K, components)
    previous: list[Match | None]

    def __len__(self) -> int:
        return len(self.event_types)

    @classmethod
    def concat(cls, parts: Sequence[PlannedPairs]) -> PlannedPairs:
        width = len(COMPONENTS)
        return cls(
            [t for p in parts for t in p.event_types],
            [i for p in parts for i in p.enterprise_ids],
            [i for p in parts for i in p.participant_ids],
            np.concatenate([p.scores for p in parts]) if parts else np.zeros(0),
            np.concatenate([p.components for p in parts]) if parts else np.zeros((0, width)),
            np.concatenate([p.applicable for p in parts])
            if parts
            else np.zeros((0, width), dtype=bool),
            [m for p in parts for m in p.previous],
        )

    def slices(self, size: int) -> Iterator[PlannedPairs]:
        """The pairs in order, `size` at a time (one empty slice when there are none)."""
        for start in range(0, max(len(self), 1), size):
            part = slice(start, start + size)
            yield PlannedPairs(
                self.event_types[part],
                self.enterprise_ids[part],
                self.participant_ids[part],
                self.scores[part],
                self.components[part],
                self.applicable[part],
                self.previous[part],
            )

    def changes(self) -> Iterator[PairChange]:
        components, applicable = self.components.tolist(), self.applicable.tolist()
        for k, event_type in enumerate(self.event_types):
            yield PairChange(
                event_type,
                self.enterprise_ids[k],
                self.participant_ids[k],
                float(self.scores[k]),
                dict(zip(COMPONENTS, components[k], strict=True)),
                dict(zip(COMPONENTS, applicable[k], strict=True)),
                self.previous[k],
            )


@dataclass(frozen=True)
class Block:
    """Enterprises (rows) against participants (columns). Only pairs whose row and
    column are both `*_ok` count; `existing` are the published matches of those
    pairs, at their (row, column)."""

    enterprises: EnterpriseFeatures
    participants: ParticipantFeatures
    enterprise_ok: BoolArray
    participant_ok: BoolArray
    existing: Sequence[tuple[int, int, Match]]


_EVENT_ORDER: tuple[MatchEventType, ...] = ("match.proposed", "match.updated", "match.withdrawn")


def plan_block(b: Block, weights: Weights, threshold: float, delta: float) -> PlannedPairs:
    """The pairs of the block whose match changes (per chunk of rows: proposals,
    then updates, then withdrawals)."""
    m, n = len(b.enterprises.ids), len(b.participants.ids)
    step = max(1, CHUNK_CELLS // max(n, 1))
    parts = [
        _plan_chunk(b, start, min(m, start + step), weights, threshold, delta)
        for start in range(0, m, step)
        if b.enterprise_ok[start : start + step].any() and b.participant_ok.any()
    ]
    return PlannedPairs.concat(parts)


def _plan_chunk(
    b: Block, start: int, stop: int, weights: Weights, threshold: float, delta: float
) -> PlannedPairs:
    n = len(b.participants.ids)
    scores = score(take_rows(b.enterprises, slice(start, stop)), b.participants, weights)
    ok = b.enterprise_ok[start:stop, None] & b.participant_ok[None, :]
    total = np.where(ok, scores.total, -1.0).ravel()
    old = np.full(total.shape, np.nan)
    active = np.zeros(total.shape, dtype=bool)
    previous: dict[int, Match] = {}
    for i, j, match in b.existing:
        if start <= i < stop:
            k = (i - start) * n + j
            old[k], active[k], previous[k] = match.score, match.status == "proposed", match
    plan = plan_changes(total, old, active, threshold, delta)
    steps = (plan.proposed, plan.updated, plan.withdrawn)
    flat = np.concatenate(steps)
    rows, columns = np.divmod(flat, n)
    shape = scores.total.shape
    return PlannedPairs(
        [t for t, ks in zip(_EVENT_ORDER, steps, strict=True) for _ in range(len(ks))],
        [b.enterprises.ids[start + i] for i in rows.tolist()],
        [b.participants.ids[j] for j in columns.tolist()],
        total[flat],
        np.stack([np.broadcast_to(c, shape)[rows, columns] for c in scores.components], axis=1),
        np.stack([np.broadcast_to(a, shape)[rows, columns] for a in scores.applicable], axis=1),
        [previous.get(k) for k in flat.tolist()],
    )


def match_of(
    c: PairChange,
    roadshow_id: uuid.UUID,
    e: EnterpriseProfile,
    p: ParticipantProfile,
    weights: Weights,
) -> Match:
    """The match a pair change publishes, with its reasons (built without
    validating again: every value is computed here, already of its type)."""
    return Match.trusted(
        match_id=match_id_for(e.enterprise_id, p.participant_id),
        roadshow_id=roadshow_id,
        enterprise_id=e.enterprise_id,
        participant_id=p.participant_id,
        participant_kind=p.kind,
        score=c.score,
        components=explain(e, p, c.components, c.applicable, weights),
        status="withdrawn" if c.event_type == "match.withdrawn" else "proposed",
        version=c.previous.version + 1 if c.previous is not None else 1,
        enterprise_partner_id=e.partner_id,
        participant_partner_id=p.partner_id,
    )


def plan_withdrawal(matches: Sequence[Match]) -> list[MatchChange]:
    """Withdraw those of `matches` that are proposed (a party left, or its
    counterpart is no longer active)."""
    return [
        MatchChange(
            "match.withdrawn",
            m.model_copy(update={"status": "withdrawn", "version": m.version + 1}),
        )
        for m in matches
        if m.status == "proposed"
    ]


@dataclass(frozen=True)
class Rescoring:
    """One party scored against every active counterpart of its road show: one
    of the two profile lists holds only that party."""

    side: Side
    roadshow_id: uuid.UUID
    enterprises: Sequence[EnterpriseProfile]
    participants: Sequence[ParticipantProfile]


def plan_rescore(
    r: Rescoring,
    existing: Sequence[Match],
    weights: Weights,
    threshold: float,
    delta: float,
) -> list[MatchChange]:
    """Score the party against every counterpart at once (one row of the score
    matrix), then propose, update or withdraw by comparing with what was last
    published (`existing`: the party's matches, any status). Proposed matches
    whose counterpart is no longer active are withdrawn too. (The service does
    the same over its in-memory index, for many parties at once.)"""
    es = {e.enterprise_id: e for e in r.enterprises}
    ps = {p.participant_id: p for p in r.participants}
    e_row = {party_id: i for i, party_id in enumerate(es)}
    p_row = {party_id: j for j, party_id in enumerate(ps)}
    located = [
        (e_row[m.enterprise_id], p_row[m.participant_id], m)
        for m in existing
        if m.enterprise_id in e_row and m.participant_id in p_row
    ]
    block = Block(
        enterprise_features(list(es.values())),
        participant_features(list(ps.values())),
        np.ones(len(es), dtype=bool),
        np.ones(len(ps), dtype=bool),
        located,
    )
    changes = [
        MatchChange(
            c.event_type,
            match_of(c, r.roadshow_id, es[c.enterprise_id], ps[c.participant_id], weights),
        )
        for c in plan_block(block, weights, threshold, delta).changes()
    ]
    seen = {m.match_id for _, _, m in located}
    return changes + plan_withdrawal([m for m in existing if m.match_id not in seen])
