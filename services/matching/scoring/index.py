"""A road show's feature matrices, kept in memory and changed row by row (no I/O).

Building features is the expensive part of scoring (tokenising every focus text:
seconds for 100,000 participants); scoring one newcomer against features already
built is a few matrix products. So each side of a road show is a `FeatureTable`:
the feature arrays of every party ever put, in storage order, with a mask of the
rows that are current. Putting a party appends its row (its old row, if any, is
masked out); removing one only masks it; the table compacts itself once masked
rows outnumber current ones, so appends and removals cost O(1) amortised and
memory stays within twice the live rows. Scoring runs over the storage rows and
ignores masked ones.

`RoadshowIndex` adds what says whether the tables are in step with the database:
the change sequence they reflect (see migration 0003), and the changes applied by
a transaction whose outcome this process has not seen yet.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import numpy as np
import scipy.sparse as sp

from services.matching.scoring.model import (
    TEXT_DIM,
    BoolArray,
    EnterpriseFeatures,
    EnterpriseProfile,
    ParticipantFeatures,
    ParticipantProfile,
    enterprise_features,
    participant_features,
)
from shared.contracts.matching import Side

F = TypeVar("F", EnterpriseFeatures, ParticipantFeatures)

_MIN_CAPACITY = 16
# Compaction waits for at least this many masked rows: tiny tables need none.
_MIN_DEAD_TO_COMPACT = 256


def take_rows(features: F, rows: slice | np.ndarray) -> F:
    """The features of some rows (a slice, or an array of row numbers)."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(features):
        value = getattr(features, f.name)
        if isinstance(value, list):
            picked = range(len(value))[rows] if isinstance(rows, slice) else rows.tolist()
            changes[f.name] = [value[i] for i in picked]
        else:
            changes[f.name] = value[rows]
    return dataclasses.replace(features, **changes)


class _Text:
    """Rows of a CSR matrix, appended in place into buffers that grow by doubling."""

    def __init__(self) -> None:
        self._data = np.empty(_MIN_CAPACITY, dtype=np.float64)
        self._indices = np.empty(_MIN_CAPACITY, dtype=np.int32)
        self._indptr = np.zeros(_MIN_CAPACITY + 1, dtype=np.int64)
        self._rows = 0

    def append(self, m: sp.csr_matrix) -> None:
        nnz, rows = int(self._indptr[self._rows]), m.shape[0]
        self._data = _room(self._data, nnz + m.nnz)
        self._indices = _room(self._indices, nnz + m.nnz)
        self._indptr = _room(self._indptr, self._rows + rows + 1)
        self._data[nnz : nnz + m.nnz] = m.data
        self._indices[nnz : nnz + m.nnz] = m.indices
        self._indptr[self._rows + 1 : self._rows + rows + 1] = m.indptr[1:] + nnz
        self._rows += rows

    def matrix(self) -> sp.csr_matrix:
        nnz = int(self._indptr[self._rows])
        return sp.csr_matrix(
            (self._data[:nnz], self._indices[:nnz], self._indptr[: self._rows + 1]),
            shape=(self._rows, TEXT_DIM),
            copy=False,
        )


def _room(a: np.ndarray, length: int) -> np.ndarray:
    """`a`, or a copy with room for `length` entries along its first axis."""
    if length <= a.shape[0]:
        return a
    grown = np.empty((max(length, 2 * a.shape[0]), *a.shape[1:]), dtype=a.dtype)
    grown[: a.shape[0]] = a
    return grown


def _empty_arrays(features: Any) -> dict[str, np.ndarray]:
    """Room for a few rows of each array of a features dataclass."""
    out: dict[str, np.ndarray] = {}
    for f in dataclasses.fields(features):
        value = getattr(features, f.name)
        if isinstance(value, np.ndarray):
            out[f.name] = np.empty((_MIN_CAPACITY, *value.shape[1:]), dtype=value.dtype)
    return out


class FeatureTable(Generic[F]):
    """One side of a road show: features of its current parties, by id."""

    def __init__(self, empty: F) -> None:
        self._empty: F = empty
        self._clear()

    def _clear(self) -> None:
        self._arrays = _empty_arrays(self._empty)
        self._text = _Text()
        self._ids: list[uuid.UUID] = []
        self._current = np.zeros(_MIN_CAPACITY, dtype=bool)
        self._row: dict[uuid.UUID, int] = {}

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, party_id: object) -> bool:
        return party_id in self._row

    @property
    def storage_rows(self) -> int:
        return len(self._ids)

    def row_of(self, party_id: uuid.UUID) -> int | None:
        return self._row.get(party_id)

    def put(self, features: F) -> None:
        """Add parties, replacing the rows of those already here."""
        start, n = len(self._ids), len(features.ids)
        for party_id in features.ids:
            self._mask(party_id)
        for name in self._arrays:
            self._arrays[name] = _room(self._arrays[name], start + n)
            self._arrays[name][start : start + n] = getattr(features, name)
        self._current = _room(self._current, start + n)
        self._current[start : start + n] = True
        self._text.append(features.text)
        for k, party_id in enumerate(features.ids):
            self._row[party_id] = start + k
        self._ids.extend(features.ids)
        self._compact_if_sparse()

    def remove(self, party_ids: Iterable[uuid.UUID]) -> None:
        for party_id in party_ids:
            self._mask(party_id)
        self._compact_if_sparse()

    def _mask(self, party_id: uuid.UUID) -> None:
        row = self._row.pop(party_id, None)
        if row is not None:
            self._current[row] = False

    def _compact_if_sparse(self) -> None:
        dead = len(self._ids) - len(self._row)
        if dead >= _MIN_DEAD_TO_COMPACT and dead > len(self._row):
            live = self.live()
            self._clear()
            self.put(live)

    def storage(self) -> F:
        """Every storage row (masked ones too), without copying: score over these
        and keep the `current()` ones."""
        n = len(self._ids)
        arrays = {name: a[:n] for name, a in self._arrays.items()}
        view: F = dataclasses.replace(
            self._empty, ids=self._ids, text=self._text.matrix(), **arrays
        )
        return view

    def current(self) -> BoolArray:
        return self._current[: len(self._ids)]

    def live(self) -> F:
        """The current rows only, ordered by party id (a copy): what a fresh build
        from the same parties, read in id order, gives."""
        rows = sorted(self._row.items())
        return take_rows(self.storage(), np.array([r for _, r in rows], dtype=np.int64))


@dataclass
class Pending:
    """Changes a transaction applied to the index before it committed: if it rolls
    back, the parties it touched are read again."""

    seq: int
    xid: str
    touched: dict[Side, set[uuid.UUID]] = field(
        default_factory=lambda: {"enterprise": set(), "participant": set()}
    )


SyncAction = Literal["current", "committed", "catch_up"]


@dataclass
class RoadshowIndex:
    """Both sides of one road show, and the change (sequence value) they reflect."""

    enterprises: FeatureTable[EnterpriseFeatures]
    participants: FeatureTable[ParticipantFeatures]
    seq: int
    pending: Pending | None = None

    @classmethod
    def empty(cls, seq: int) -> RoadshowIndex:
        return cls(
            FeatureTable(enterprise_features([])), FeatureTable(participant_features([])), seq
        )

    @property
    def parties(self) -> int:
        return len(self.enterprises) + len(self.participants)

    def sync_action(self, db_seq: int, xid: str) -> SyncAction:
        """What to do before using the index, given the road show's token in the
        database and the current transaction's id (both read under its lock).

        - current: nothing changed since (or the pending changes are this very
          transaction's own);
        - committed: the pending changes are what the database holds now (no
          sequence value is handed out twice, so the token equals the pending one
          only if that transaction committed, and nobody changed anything since);
        - catch_up: read the parties stamped after `seq`, and those the pending
          transaction touched (it may have rolled back)."""
        if self.pending is not None:
            if self.pending.xid == xid:
                return "current"
            return "committed" if db_seq == self.pending.seq else "catch_up"
        return "current" if db_seq == self.seq else "catch_up"

    def stamp(self, seq: int, xid: str, touched: dict[Side, set[uuid.UUID]]) -> None:
        """Record that this transaction changed `touched` under change `seq`."""
        if self.pending is None or self.pending.xid != xid:
            self.pending = Pending(seq, xid)
        self.pending.seq = seq
        for side, ids in touched.items():
            self.pending.touched[side] |= ids

    def apply(
        self,
        side: Side,
        active: list[EnterpriseProfile] | list[ParticipantProfile],
        gone: set[uuid.UUID],
    ) -> None:
        """Put the active parties' current rows, remove the others."""
        if side == "enterprise":
            self.enterprises.remove(gone)
            es = [p for p in active if isinstance(p, EnterpriseProfile)]
            if es:
                self.enterprises.put(enterprise_features(es))
        else:
            self.participants.remove(gone)
            ps = [p for p in active if isinstance(p, ParticipantProfile)]
            if ps:
                self.participants.put(participant_features(ps))
