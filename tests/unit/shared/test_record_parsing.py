"""The consumer's one-pass parse (envelope and data validated together from the
record's JSON, chosen by the outbox's `event_type` header) reads every contract
exactly as the careful path does, and hands anything doubtful to that path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord

from shared.consumer import _parsed_in_one_pass
from shared.contracts import CONTRACTS, parse_data
from shared.envelope import Envelope
from shared.testing.samples import sample_events

EVENTS = sample_events()


def _record(wire: dict[str, Any], header: str | None) -> ConsumerRecord[bytes, bytes]:
    headers = [("event_type", header.encode())] if header is not None else []
    return ConsumerRecord("t", 0, 0, 0, 0, None, json.dumps(wire).encode(), None, 0, 0, headers)


@pytest.mark.parametrize(("key", "wire"), EVENTS, ids=[f"{t}.v{v}" for (t, v), _ in EVENTS])
def test_every_contract_reads_the_same_in_one_pass(
    key: tuple[str, int], wire: dict[str, Any]
) -> None:
    careful = Envelope.model_validate_json(json.dumps(wire))
    expected = parse_data(careful)
    fast = _parsed_in_one_pass(_record(wire, key[0]), key[0])
    if CONTRACTS.typed_envelope(key[0]) is None:  # several versions: the careful path only
        assert fast is None
        return
    assert fast is not None
    envelope, data = fast
    assert data == expected
    assert type(data) is type(expected)
    assert envelope.model_dump(exclude={"data"}) == careful.model_dump(exclude={"data"})
    assert envelope.data == {}  # the contract travels beside it


def test_a_record_the_fast_path_doubts_goes_the_careful_way() -> None:
    (event_type, _), wire = next((k, w) for k, w in EVENTS if CONTRACTS.typed_envelope(k[0]))
    other = next(t for (t, _), _ in EVENTS if t != event_type)
    broken = {**wire, "data": {**wire["data"], next(iter(wire["data"])): {"not": "valid"}}}
    assert _parsed_in_one_pass(_record(wire, other), other) is None  # header and type disagree
    assert _parsed_in_one_pass(_record(broken, event_type), event_type) is None  # bad data
    assert _parsed_in_one_pass(_record({**wire, "version": 2}, event_type), event_type) is None
    assert _parsed_in_one_pass(_record(wire, None), None) is None  # no header: a tool's record
