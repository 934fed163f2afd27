"""Scoring as pure functions over plain data and numpy arrays (no I/O).

A match score in [0, 1] is the weighted mean of named components, each in [0, 1]:

  sector_fit       best relation between the two sector lists (same > same group >
                   linked groups, shared.taxonomy.relation)
  stage_fit        the fund's stages against the project's stage (exact, adjacent)
  ticket_fit       funding sought against the participant's ticket range, both
                   converted into one currency by the dated rate table (rates.py)
  partnership_fit  partnership types sought against those the participant offers
  text_similarity  project summary against the participant's focus (hashed bag of
                   words, cosine); Chinese is segmented (jieba) and mapped through
                   a bilingual vocabulary per sector (vocabulary.py)

A component that does not apply to a pair (a bank names no stages; a ticket range
in a currency the rate table cannot convert) is left out of the mean rather than scored 0 or 0.5: it
neither helps nor hurts. The weights shown with a match are the effective ones,
so score = sum(weight * component score) exactly.

A participant may make criteria mandatory (stage, ticket_range, sectors,
country): a pair failing one scores 0 and is never matched; `mandatory_failures`
says why, pair by pair.

Scoring is vectorised: `score(enterprises, participants)` scores M x N pairs at
once from feature matrices, so one enterprise against every participant of its
road show (or the reverse) is a handful of matrix products. Reasons are written
only for the pairs that become matches (`explain`). `scoring/plan.py` decides
which matches are proposed, updated or withdrawn.
"""

from __future__ import annotations

import functools
import math
import re
import uuid
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from services.matching.interest.model import PairInterest
from services.matching.scoring import segment
from services.matching.scoring.rates import RATES, RateTable
from shared.contracts.matching import Match, MatchComponent
from shared.taxonomy import (
    GROUP_OF,
    SECTORS,
    STAGE_ORDER,
    ParticipantKind,
    PartnershipType,
    relation,
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]

COMPONENTS = ("sector_fit", "stage_fit", "ticket_fit", "partnership_fit", "text_similarity")

# Relation levels, strongest first; a pair scores its strongest relation.
SECTOR_LEVELS: tuple[tuple[str, float], ...] = (("same", 1.0), ("group", 0.7), ("linked", 0.4))
ADJACENT_STAGE_SCORE = 0.5
# Funding a factor of 2**TICKET_OCTAVES away from the range scores 0.
TICKET_OCTAVES = 2.0
# Short texts that share a few content words have cosines of 0.1-0.4; scaled so a
# clear overlap reaches 1.
TEXT_SCALE = 2.5
TEXT_DIM = 1 << 16

_SECTOR_INDEX = {s: i for i, s in enumerate(SECTORS)}
_STAGE_INDEX = {s.value: i for i, s in enumerate(STAGE_ORDER)}
_PARTNERSHIPS = tuple(t.value for t in PartnershipType)
_PARTNERSHIP_INDEX = {t: i for i, t in enumerate(_PARTNERSHIPS)}
_ADJACENT = np.eye(len(STAGE_ORDER), k=1) + np.eye(len(STAGE_ORDER), k=-1)


@dataclass(frozen=True)
class Weights:
    sector_fit: float = 0.30
    stage_fit: float = 0.15
    ticket_fit: float = 0.15
    partnership_fit: float = 0.25
    text_similarity: float = 0.15

    def __post_init__(self) -> None:
        values = [getattr(self, c) for c in COMPONENTS]
        if any(v < 0 or not math.isfinite(v) for v in values):
            raise ValueError("weights must be finite and non-negative")
        # These three always apply, so every pair has a defined mean.
        if self.sector_fit + self.partnership_fit + self.text_similarity <= 0:
            raise ValueError("sector, partnership and text weights must not all be 0")

    def vector(self) -> FloatArray:
        return np.array([getattr(self, c) for c in COMPONENTS], dtype=np.float64)


@dataclass(frozen=True)
class EnterpriseProfile:
    """What matching knows of an enterprise: its project, never its president."""

    enterprise_id: uuid.UUID
    sectors: tuple[str, ...]
    stage: str
    funding_amount: Decimal
    funding_currency: str
    partnership_types: tuple[str, ...]
    summary: str
    partner_id: uuid.UUID | None = None  # the partner that registered it
    country: str | None = None


@dataclass(frozen=True)
class ParticipantProfile:
    participant_id: uuid.UUID
    kind: ParticipantKind
    sectors: tuple[str, ...]
    stages: tuple[str, ...]
    ticket_min: Decimal | None
    ticket_max: Decimal | None
    currency: str | None
    offers: tuple[str, ...]
    focus: str
    partner_id: uuid.UUID | None = None
    countries: tuple[str, ...] = ()  # enterprise countries sought
    mandatory: tuple[str, ...] = ()  # criteria (MANDATORY) a pair must meet


# Criteria a participant can make mandatory, in the column order of `must`.
MANDATORY = ("stage", "ticket_range", "sectors", "country")
# Countries per participant held in its feature row; registration allows no more.
MAX_COUNTRIES = 20
# --- text -------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    [
        "a",
        "about",
        "across",
        "after",
        "all",
        "also",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "being",
        "both",
        "but",
        "by",
        "can",
        "company",
        "companies",
        "for",
        "from",
        "has",
        "have",
        "help",
        "helps",
        "in",
        "including",
        "into",
        "is",
        "it",
        "its",
        "looking",
        "more",
        "most",
        "new",
        "of",
        "on",
        "or",
        "our",
        "over",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "using",
        "we",
        "what",
        "which",
        "while",
        "who",
        "will",
        "with",
        "within",
        "without",
        "year",
        "years",
    ]
)
# Abbreviations partners write either way.
_EXPAND = {
    "ai": ("artificial", "intelligence"),
    "ml": ("machine", "learning"),
    "ev": ("electric", "vehicle"),
    "evs": ("electric", "vehicle"),
    "iot": ("internet", "thing"),
    "bms": ("battery", "management"),
    "av": ("autonomous", "vehicle"),
    "avs": ("autonomous", "vehicle"),
    "nlp": ("natural", "language", "processing"),
}


def _stem(word: str) -> str:
    # Plurals only: enough for short business texts, and reasons stay readable.
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _english_terms(text: str) -> list[str]:
    out: list[str] = []
    for word in _WORD.findall(text):
        if word in _EXPAND:
            out.extend(_EXPAND[word])
        elif word not in _STOP and not word.isdigit():
            out.append(_stem(word))
    return out


_PIECE = re.compile(r"[a-z0-9]+|" + segment.CJK.pattern)


def terms(text: str) -> list[str]:
    """Content words of a text, lower-cased, plurals folded, abbreviations expanded.
    Chinese runs are segmented, and words of the bilingual vocabulary become
    their English terms, so Chinese and English texts on one subject share terms."""
    lowered = text.lower()
    if not segment.has_chinese(lowered):
        return _english_terms(lowered)
    out: list[str] = []
    for piece in _PIECE.findall(lowered):
        if piece.isascii():
            out.extend(_english_terms(piece))
            continue
        for word in segment.chinese_words(piece):
            if word.isascii():
                out.extend(_english_terms(word))
            else:
                out.append(word)
    return out


def _text_matrix(texts: Sequence[str]) -> sp.csr_matrix:
    """Rows of L2-normalised hashed term frequencies (1 + log tf). No IDF: a pair's
    similarity depends on its two texts only, so incremental rescoring is exact."""
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for text in texts:
        counts = Counter(zlib.crc32(t.encode()) % TEXT_DIM for t in terms(text))
        if counts:
            weights = np.array([1.0 + math.log(c) for c in counts.values()])
            weights /= np.linalg.norm(weights)
            indices.extend(counts.keys())
            data.extend(weights.tolist())
        indptr.append(len(indices))
    return sp.csr_matrix(
        (np.array(data, dtype=np.float64), np.array(indices, dtype=np.int64), np.array(indptr)),
        shape=(len(texts), TEXT_DIM),
    )


# --- features ---------------------------------------------------------------------------


def _currency_code(currency: str | None) -> int:
    if not currency:
        return -1
    return int.from_bytes(currency.upper().encode()[:3], "big")


def _country_code(country: str | None) -> int:
    if not country or len(country) != 2 or not country.isascii() or not country.isalpha():
        return -1
    code = country.upper()
    return (ord(code[0]) - 65) * 26 + (ord(code[1]) - 65)


def _to_base(currencies: Sequence[str | None], rates: RateTable) -> tuple[FloatArray, BoolArray]:
    """Per amount, the factor that converts it into the rate table's base currency
    (1 where the table does not know the currency), and whether it knows it."""
    n = len(currencies)
    per_base = rates.per_base
    factor = np.ones(n, dtype=np.float64)
    known = np.zeros(n, dtype=bool)
    for i, c in enumerate(currencies):
        rate = per_base.get(c.upper()) if c else None
        if rate is not None:
            factor[i], known[i] = 1.0 / rate, True
    return factor, known


def _log2(amounts: Sequence[float], factor: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore"):
        return np.log2(np.asarray(amounts, dtype=np.float64).reshape(len(amounts)) * factor)


def _one_hot(lists: Sequence[Sequence[str]], index: dict[str, int]) -> FloatArray:
    out = np.zeros((len(lists), len(index)), dtype=np.float64)
    for row, values in enumerate(lists):
        for v in values:
            i = index.get(v)
            if i is not None:
                out[row, i] = 1.0
    return out


@dataclass(frozen=True)
class EnterpriseFeatures:
    ids: list[uuid.UUID]
    sectors: FloatArray  # (M, S)
    stage: FloatArray  # (M, stages) one-hot
    log_amount: FloatArray  # (M,) log2 of the funding sought, in base currency if converted
    currency: IntArray  # (M,)
    converted: BoolArray  # (M,) the rate table knows its currency
    country: IntArray  # (M,) country code, -1 when unknown
    seeks: FloatArray  # (M, partnership types)
    n_seeks: FloatArray  # (M,)
    text: sp.csr_matrix  # (M, TEXT_DIM)


@dataclass(frozen=True)
class ParticipantFeatures:
    """Everything scoring needs per participant, precomputed once per party so
    scoring a newcomer is only matrix products and a few vector operations."""

    ids: list[uuid.UUID]
    sectors: FloatArray  # (N, S)
    stages: FloatArray  # (N, stages)
    near_stages: FloatArray  # (N, stages) stages next to one they invest in
    has_stages: BoolArray  # (N,)
    log_low: FloatArray  # (N,) log2 of the ticket minimum, -inf without one
    log_high: FloatArray  # (N,) log2 of the ticket maximum, inf without one
    has_ticket: BoolArray  # (N,) a range and its currency are given
    currency: IntArray  # (N,)
    converted: BoolArray  # (N,) the range is in base currency
    countries: NDArray[np.int16]  # (N, MAX_COUNTRIES) country codes sought, -2 padding
    must: BoolArray  # (N, MANDATORY) which criteria are mandatory
    offers: FloatArray  # (N, partnership types)
    n_offers: FloatArray  # (N,)
    text: sp.csr_matrix  # (N, TEXT_DIM)


def enterprise_features(
    profiles: Sequence[EnterpriseProfile], rates: RateTable = RATES
) -> EnterpriseFeatures:
    seeks = _one_hot([p.partnership_types for p in profiles], _PARTNERSHIP_INDEX)
    factor, converted = _to_base([p.funding_currency for p in profiles], rates)
    log_amount = _log2([float(p.funding_amount) for p in profiles], factor)
    return EnterpriseFeatures(
        ids=[p.enterprise_id for p in profiles],
        sectors=_one_hot([p.sectors for p in profiles], _SECTOR_INDEX),
        stage=_one_hot([(p.stage,) for p in profiles], _STAGE_INDEX),
        log_amount=log_amount,
        currency=np.array([_currency_code(p.funding_currency) for p in profiles], dtype=np.int64),
        converted=converted,
        country=np.array([_country_code(p.country) for p in profiles], dtype=np.int64).reshape(
            len(profiles)
        ),
        seeks=seeks,
        n_seeks=seeks.sum(axis=1),
        text=_text_matrix([p.summary for p in profiles]),
    )


def participant_features(
    profiles: Sequence[ParticipantProfile], rates: RateTable = RATES
) -> ParticipantFeatures:
    factor, converted = _to_base([p.currency for p in profiles], rates)
    log_low = _log2([float(p.ticket_min or 0) for p in profiles], factor)
    log_high = _log2(
        [float(p.ticket_max) if p.ticket_max is not None else math.inf for p in profiles], factor
    )
    stages = _one_hot([p.stages for p in profiles], _STAGE_INDEX)
    offers = _one_hot([p.offers for p in profiles], _PARTNERSHIP_INDEX)
    countries = np.full((len(profiles), MAX_COUNTRIES), -2, dtype=np.int16)
    must = np.zeros((len(profiles), len(MANDATORY)), dtype=bool)
    for row, p in enumerate(profiles):
        if p.countries:
            codes = [_country_code(c) for c in p.countries[:MAX_COUNTRIES]]
            countries[row, : len(codes)] = codes
        if p.mandatory:
            must[row] = [c in p.mandatory for c in MANDATORY]
    return ParticipantFeatures(
        ids=[p.participant_id for p in profiles],
        sectors=_one_hot([p.sectors for p in profiles], _SECTOR_INDEX),
        stages=stages,
        near_stages=np.minimum(stages @ _ADJACENT, 1.0),
        has_stages=stages.sum(axis=1) > 0,
        log_low=log_low,
        log_high=log_high,
        has_ticket=np.array(
            [
                (p.ticket_min is not None or p.ticket_max is not None) and p.currency is not None
                for p in profiles
            ],
            dtype=bool,
        ),
        currency=np.array([_currency_code(p.currency) for p in profiles], dtype=np.int64),
        converted=converted,
        countries=countries,
        must=must,
        offers=offers,
        n_offers=offers.sum(axis=1),
        text=_text_matrix([p.focus for p in profiles]),
    )


def _relation_matrices() -> list[tuple[float, FloatArray]]:
    """For each level, which sector pairs relate at least that strongly."""
    order = {name: rank for rank, (name, _) in enumerate(SECTOR_LEVELS)}
    out = []
    for rank, (_, value) in enumerate(SECTOR_LEVELS):
        m = np.zeros((len(SECTORS), len(SECTORS)), dtype=np.float64)
        for i, a in enumerate(SECTORS):
            for j, b in enumerate(SECTORS):
                r = relation(a, b)
                if r is not None and order[r] <= rank:
                    m[i, j] = 1.0
        out.append((value, m))
    return out


_RELATIONS = _relation_matrices()


# --- scoring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Per component, its scores (M, N) and where it applies (broadcastable to
    (M, N)); total (M, N), rounded to 4 decimals."""

    components: tuple[FloatArray, ...]
    applicable: tuple[BoolArray, ...]
    total: FloatArray  # 0 where a mandatory criterion fails
    eligible: BoolArray | None = None  # (M, N): no mandatory criterion fails; None: all

    def pair(self, i: int, j: int) -> tuple[dict[str, float], dict[str, bool]]:
        shape = self.total.shape
        return (
            {c: float(self.components[k][i, j]) for k, c in enumerate(COMPONENTS)},
            {
                c: bool(np.broadcast_to(self.applicable[k], shape)[i, j])
                for k, c in enumerate(COMPONENTS)
            },
        )


def _text_similarity(e: sp.csr_matrix, p: sp.csr_matrix) -> FloatArray:
    # One party against many: a sparse matrix times a dense vector is the fast path.
    if e.shape[0] == 1:
        return np.asarray(p @ e.toarray().ravel(), dtype=np.float64)[None, :]
    if p.shape[0] == 1:
        return np.asarray(e @ p.toarray().ravel(), dtype=np.float64)[:, None]
    return np.asarray((e @ p.T).toarray(), dtype=np.float64)


def score(e: EnterpriseFeatures, p: ParticipantFeatures, weights: Weights) -> Scores:
    """Score every enterprise of `e` against every participant of `p` (M x N)."""
    m, n = len(e.ids), len(p.ids)
    w = weights.vector()
    always = np.ones((1, 1), dtype=bool)

    sector = np.zeros((m, n), dtype=np.float64)
    for value, rel in reversed(_RELATIONS):  # weakest first; stronger ones overwrite
        sector[(e.sectors @ rel @ p.sectors.T) > 0] = value

    stage_applies = p.has_stages[None, :]
    exact = e.stage @ p.stages.T  # 0 or 1: the project's stage is one of theirs
    near = e.stage @ p.near_stages.T
    stage = np.maximum(exact, ADJACENT_STAGE_SCORE * near) * stage_applies

    # Comparable when both converted into the base currency, or in one currency.
    ticket_applies = p.has_ticket[None, :] & (
        (e.converted[:, None] & p.converted[None, :]) | (e.currency[:, None] == p.currency[None, :])
    )
    amount = e.log_amount[:, None]
    off = np.maximum(p.log_low[None, :] - amount, 0.0) + np.maximum(
        amount - p.log_high[None, :], 0.0
    )
    ticket = np.clip(1.0 - off / TICKET_OCTAVES, 0.0, 1.0) * ticket_applies

    room = np.minimum(e.n_seeks[:, None], p.n_offers[None, :])
    partnership = np.divide(
        e.seeks @ p.offers.T, room, out=np.zeros((m, n), dtype=np.float64), where=room > 0
    )

    text = np.clip(_text_similarity(e.text, p.text) * TEXT_SCALE, 0.0, 1.0)

    # Components that do not apply drop out of the weighted mean (score 0, weight 0).
    numerator = w[0] * sector + w[1] * stage + w[2] * ticket + w[3] * partnership + w[4] * text
    denominator = (w[0] + w[3] + w[4]) + w[1] * stage_applies + w[2] * ticket_applies
    total = np.round(numerator / denominator, 4)
    eligible = None
    if p.must.any():
        eligible = _meets_mandatory(e, p, exact > 0, ticket_applies & (off <= 1e-12), sector >= 1.0)
        total = np.where(eligible, total, 0.0)
    return Scores(
        components=(sector, stage, ticket, partnership, text),
        applicable=(always, stage_applies, ticket_applies, always, always),
        total=total,
        eligible=eligible,
    )


def _meets_mandatory(
    e: EnterpriseFeatures,
    p: ParticipantFeatures,
    stage_ok: BoolArray,
    ticket_ok: BoolArray,
    sector_ok: BoolArray,
) -> BoolArray:
    """(M, N): the pair meets every criterion the participant made mandatory."""
    must = p.must
    ok = np.ones((len(e.ids), len(p.ids)), dtype=bool)
    for k, passes in enumerate((stage_ok, ticket_ok, sector_ok)):
        if must[:, k].any():
            ok &= passes | ~must[None, :, k]
    country = MANDATORY.index("country")
    columns = np.flatnonzero(must[:, country])
    if len(columns):
        sought = p.countries[columns]
        found = np.zeros((len(e.ids), len(columns)), dtype=bool)
        for k in range(sought.shape[1]):
            if (sought[:, k] < 0).all():
                break
            found |= e.country[:, None] == sought[None, :, k]
        ok[:, columns] &= found
    return ok


# --- reasons ----------------------------------------------------------------------------


def _money(amount: float, currency: str | None) -> str:
    return f"{currency or ''} {amount:,.0f}".strip()


def _sector_reason(e: EnterpriseProfile, p: ParticipantProfile) -> str:
    return _sector_reason_of(e.sectors, p.sectors)


# A burst writes reasons for tens of thousands of pairs, most sharing sector lists
# and texts: both are worked out once per distinct input.
@functools.lru_cache(maxsize=4096)
def _sector_reason_of(mine: tuple[str, ...], theirs: tuple[str, ...]) -> str:
    best: tuple[int, str, str, str] | None = None
    for rank, (level, _) in enumerate(SECTOR_LEVELS):
        for a in mine:
            for b in theirs:
                if relation(a, b) == level and (best is None or rank < best[0]):
                    best = (rank, level, a, b)
    if best is None:
        return "no related sectors: " + ", ".join(mine) + " against " + ", ".join(theirs)
    _, level, a, b = best
    if level == "same":
        return f"same sector: {a}"
    if level == "group":
        return f"related sectors in the {GROUP_OF[a]} group: {a} and {b}"
    return f"linked sector groups {GROUP_OF[a]} and {GROUP_OF[b]}: {a} and {b}"


def _stage_reason(e: EnterpriseProfile, p: ParticipantProfile, applies: bool, s: float) -> str:
    if not applies:
        return f"not applicable: this {p.kind.value} names no investment stages"
    stages = ", ".join(p.stages)
    if s >= 1.0:
        return f"invests at {e.stage}, the project's stage"
    if s > 0:
        return f"invests at {stages}, next to the project's {e.stage} stage"
    return f"invests at {stages}; the project is at {e.stage}"


def _sought(e: EnterpriseProfile, p: ParticipantProfile, rates: RateTable) -> tuple[float, str]:
    """The funding sought in the participant's currency, and how it reads (both
    amounts when converted)."""
    amount = float(e.funding_amount)
    sought = _money(amount, e.funding_currency)
    if p.currency is None or p.currency.upper() == e.funding_currency.upper():
        return amount, sought
    converted = rates.convert(amount, e.funding_currency, p.currency)
    return converted, (
        f"{sought} (= {_money(converted, p.currency)} at the {rates.date.isoformat()} rates)"
    )


def _ticket_reason(
    e: EnterpriseProfile, p: ParticipantProfile, applies: bool, rates: RateTable = RATES
) -> str:
    if p.ticket_min is None and p.ticket_max is None:
        return "not applicable: no ticket range given"
    if not applies:
        return (
            f"not applicable: ticket range in {p.currency or 'no currency'}, funding sought in "
            f"{e.funding_currency}, and the {rates.date.isoformat()} rate table converts only "
            + ", ".join(sorted(rates.per_base))
        )
    low = float(p.ticket_min) if p.ticket_min is not None else 0.0
    high = float(p.ticket_max) if p.ticket_max is not None else math.inf
    amount, sought = _sought(e, p, rates)
    span = (
        f"{_money(low, p.currency)}-{_money(high, None)}"
        if math.isfinite(high)
        else f"from {_money(low, p.currency)}"
    )
    if amount < low:
        return f"seeks {sought}, {low / amount:.1f}x below the ticket range {span}"
    if amount > high:
        return f"seeks {sought}, {amount / high:.1f}x above the ticket range {span}"
    return f"seeks {sought}, within the ticket range {span}"


def _partnership_reason(e: EnterpriseProfile, p: ParticipantProfile) -> str:
    shared = [t for t in e.partnership_types if t in p.offers]
    if not shared:
        return (
            f"offers none of the partnership types sought ({', '.join(e.partnership_types)})"
            f"; offers {', '.join(p.offers)}"
        )
    return f"offers {', '.join(shared)}, sought by the enterprise"


@functools.lru_cache(maxsize=16384)
def _term_set(text: str) -> frozenset[str]:
    return frozenset(terms(text))


@functools.lru_cache(maxsize=1024)
def _term_list(text: str) -> tuple[str, ...]:
    return tuple(terms(text))


def _text_reason(e: EnterpriseProfile, p: ParticipantProfile) -> str:
    mine = _term_list(e.summary)
    theirs = _term_set(p.focus)
    shared = list(dict.fromkeys(t for t in mine if t in theirs))
    if not shared:
        return "project summary and focus share no terms"
    return "project summary and focus share: " + ", ".join(shared[:6])


def mandatory_failures(
    e: EnterpriseProfile, p: ParticipantProfile, rates: RateTable = RATES
) -> list[tuple[str, str]]:
    """The participant's mandatory criteria the pair fails, each with its reason
    (the scalar reference of the vectorised check in `score`)."""
    out: list[tuple[str, str]] = []
    for criterion in MANDATORY:
        if criterion not in p.mandatory:
            continue
        reason = _failure(criterion, e, p, rates)
        if reason is not None:
            out.append((criterion, reason))
    return out


def _failure(
    criterion: str, e: EnterpriseProfile, p: ParticipantProfile, rates: RateTable
) -> str | None:
    if criterion == "stage":
        fails = e.stage not in p.stages
        reason = f"the project is at {e.stage}; invests only at {', '.join(p.stages)}"
    elif criterion == "sectors":
        fails = not set(e.sectors) & set(p.sectors)
        reason = f"no sector in common: {', '.join(e.sectors)} against {', '.join(p.sectors)}"
    elif criterion == "country":
        fails = e.country not in p.countries
        reason = (
            f"the enterprise is from {e.country or 'an unknown country'};"
            f" seeks only {', '.join(p.countries)}"
        )
    else:
        return _ticket_failure(e, p, rates)
    return reason if fails else None


def _ticket_failure(e: EnterpriseProfile, p: ParticipantProfile, rates: RateTable) -> str | None:
    comparable = (rates.knows(e.funding_currency) and rates.knows(p.currency)) or (
        p.currency is not None and p.currency.upper() == e.funding_currency.upper()
    )
    if not comparable:
        return _ticket_reason(e, p, False, rates).removeprefix("not applicable: ")
    low = float(p.ticket_min) if p.ticket_min is not None else 0.0
    high = float(p.ticket_max) if p.ticket_max is not None else math.inf
    amount, _ = _sought(e, p, rates)
    # Within a rounding cent of the bounds counts as within (the vectorised check
    # compares logarithms, and is the stricter of the two).
    if low * (1 - 1e-9) <= amount <= high * (1 + 1e-9):
        return None
    return _ticket_reason(e, p, True, rates)


def explain(
    e: EnterpriseProfile,
    p: ParticipantProfile,
    components: dict[str, float],
    applicable: dict[str, bool],
    weights: Weights,
) -> list[MatchComponent]:
    """The named components of one pair with effective weights and reasons."""
    raw = {c: getattr(weights, c) if applicable[c] else 0.0 for c in COMPONENTS}
    total = sum(raw.values())
    reasons = {
        "sector_fit": _sector_reason(e, p),
        "stage_fit": _stage_reason(e, p, applicable["stage_fit"], components["stage_fit"]),
        "ticket_fit": _ticket_reason(e, p, applicable["ticket_fit"]),
        "partnership_fit": _partnership_reason(e, p),
        "text_similarity": _text_reason(e, p),
    }
    return [
        MatchComponent.trusted(
            name=c,
            score=round(components[c], 4),
            weight=round(raw[c] / total, 4),
            reason=reasons[c],
        )
        for c in COMPONENTS
    ]


@dataclass(frozen=True)
class MatchView:
    """A match as partners read it: with both sides' names and answers."""

    match: Match
    enterprise_name: str | None
    participant_name: str | None
    interest: PairInterest
    # When the silent side's request expires (one side answered, the other not);
    # shown on a single match, not in lists.
    interest_expires_at: datetime | None = None


@dataclass(frozen=True)
class MatchFilter:
    """Which page of a party's or road show's proposed matches, best first."""

    limit: int
    after: tuple[float, uuid.UUID] | None = None  # the (score, match id) the page starts after
    kind: ParticipantKind | None = None
    min_score: float | None = None
