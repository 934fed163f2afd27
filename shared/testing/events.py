"""Events as tests read them: a `matches.changed` batch as the single `match.*`
events it stands for, so a test counts and inspects pairs, not batches."""

from __future__ import annotations

from collections.abc import Iterable

from shared.contracts import parse_data
from shared.contracts.matching import MatchesChanged, single_match_events
from shared.envelope import Envelope


def single_events(envelopes: Iterable[Envelope]) -> list[Envelope]:
    """Every envelope validated against its contract, batches spelled out in order."""
    out: list[Envelope] = []
    for envelope in envelopes:
        data = parse_data(envelope)
        if isinstance(data, MatchesChanged):
            out.extend(single for single, _ in single_match_events(envelope, data))
        else:
            out.append(envelope)
    return out
