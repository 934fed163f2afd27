"""The event contracts' documents (docs/contracts/): regenerated from the registry
they match what is checked in; every JSON Schema is a valid 2020-12 schema that a
sample event of its type passes; the AsyncAPI document validates against the
AsyncAPI 3.0 JSON Schema and carries every contract on a topic."""

from __future__ import annotations

import functools
import json
import os
import types
import typing
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel

from shared.contracts import CONTRACTS
from shared.contracts.export import DEFAULT_FOLDER, documents, message_name
from shared.contracts.export import main as export_main
from shared.envelope import Context, new_event

ROOT = Path(__file__).resolve().parents[3]
# Installed by `make test` (Makefile: the pinned @asyncapi/specs package).
ASYNCAPI_SCHEMA = Path(
    os.environ.get("ROADSHOW_ASYNCAPI_SCHEMA", ROOT / ".venv" / "asyncapi-3.0.0.json")
)
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


@functools.cache
def _documents() -> dict[str, str]:
    return documents()


@functools.cache
def _asyncapi() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(_documents()["asyncapi.json"])
    return doc


def test_the_checked_in_documents_are_what_the_registry_generates() -> None:
    expected = _documents()
    on_disk = {
        str(p.relative_to(DEFAULT_FOLDER)): p.read_text() for p in DEFAULT_FOLDER.rglob("*.json")
    }
    stale = sorted(set(on_disk) - set(expected))
    drifted = sorted(k for k, v in expected.items() if on_disk.get(k) != v)
    assert not stale and not drifted, (
        f"docs/contracts is out of date (drifted {drifted}, stale {stale}): "
        "run `python -m shared.contracts.export`"
    )
    assert len(expected) == len(CONTRACTS.keys()) + 1  # a schema per contract, and AsyncAPI


# --- a sample of every contract, built from its fields ------------------------------------


def _sample(annotation: Any) -> Any:  # noqa: PLR0911 - one answer per kind of field
    """A value of a field's type, so that every contract, present or future, is
    sampled without a hand-written table."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _sample(args[0])
    if origin is typing.Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        return _sample(next(a for a in args if a is not type(None)))
    if origin is tuple and Ellipsis not in args:  # fixed length: one value per place
        return [_sample(a) for a in args]
    if origin in (list, tuple, set, frozenset):
        return [_sample(args[0])]
    if origin is dict:
        return {"k": _sample(args[1])}
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return {n: _sample(f.annotation) for n, f in annotation.model_fields.items()}
        if issubclass(annotation, Enum):
            return next(iter(annotation)).value
        simple: dict[type, Any] = {
            bool: True,
            int: 3,
            float: 0.5,
            Decimal: "1000000",
            uuid.UUID: str(uuid.uuid4()),
            datetime: "2027-05-15T01:30:00+00:00",
            date: "2027-05-15",
            time: "09:00:00",
            str: "x",
        }
        for kind, value in simple.items():
            if issubclass(annotation, kind):
                return value
    raise TypeError(f"no sample for {annotation!r}; teach _sample this type")


def _events() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for event_type, version in sorted(CONTRACTS.keys()):
        model = CONTRACTS.contract_for(event_type, version)
        data = model.model_validate(_sample(model))
        ctx = Context(correlation_id="c-1", partner_id=uuid.uuid4(), causation_id="e-0")
        envelope = new_event("test", ctx, event_type, uuid.uuid4(), data)
        wire = json.loads(envelope.to_bytes())  # as the outbox puts it on the topic
        out.append((message_name(event_type, version), wire))
    return out


EVENTS = _events()


@pytest.mark.parametrize(("name", "event"), EVENTS, ids=[n for n, _ in EVENTS])
def test_every_event_schema_is_valid_and_its_sample_passes(
    name: str, event: dict[str, Any]
) -> None:
    schema = json.loads(_documents()[f"schemas/{name}.json"])
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(event, schema, format_checker=FORMATS)
    other = next(n for n, _ in EVENTS if n != name)  # the type is fixed by the schema
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**event, "type": other.rsplit(".v", 1)[0]}, schema)


def test_the_asyncapi_document_is_valid_asyncapi_3() -> None:
    assert ASYNCAPI_SCHEMA.exists(), f"{ASYNCAPI_SCHEMA} is missing: run `make {ASYNCAPI_SCHEMA}`"
    meta = json.loads(ASYNCAPI_SCHEMA.read_text())
    doc = _asyncapi()
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in jsonschema.Draft7Validator(meta).iter_errors(doc)
    ]
    assert not errors, "\n".join(errors[:10])


def test_every_event_travels_on_a_channel_with_its_headers_and_key() -> None:
    doc = _asyncapi()
    on_channels = {n for c in doc["channels"].values() for n in c["messages"]}
    assert {n for n, _ in EVENTS} <= on_channels
    messages = doc["components"]["messages"]
    for name, event in EVENTS:
        message = messages[name]
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        headers = doc["components"]["schemas"]["KafkaHeaders"]
        assert set(headers["required"]) == {"event_type", "correlation_id"}
        # The payload's $refs resolve inside the document, and the sample passes.
        payload = {**message["payload"], "components": doc["components"]}
        jsonschema.validate(event, payload, format_checker=FORMATS)
    operations = doc["operations"]
    assert operations["matching.consumes.registration"]["action"] == "receive"
    assert operations["registration.publishes.registration"]["action"] == "send"


def test_the_command_writes_the_documents_and_drops_stale_schemas(tmp_path: Path) -> None:
    stale = tmp_path / "schemas" / "gone.v1.json"
    stale.parent.mkdir()
    stale.write_text("{}")
    assert export_main([str(tmp_path)]) == 0
    written = {str(p.relative_to(tmp_path)): p.read_text() for p in tmp_path.rglob("*.json")}
    assert written == _documents()
