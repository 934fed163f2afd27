"""The event contracts' documents (docs/contracts/): regenerated from the registry
they match what is checked in; every JSON Schema is a valid 2020-12 schema that a
sample event of its type passes; the AsyncAPI document validates against the
AsyncAPI 3.0 JSON Schema and carries every contract on a topic."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shared.contracts import CONTRACTS
from shared.contracts.export import DEFAULT_FOLDER, documents, message_name
from shared.contracts.export import main as export_main
from shared.testing.samples import sample_events

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


EVENTS = [(message_name(t, v), wire) for (t, v), wire in sample_events()]


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
    assert operations["matching-answers.consumes.notification"]["action"] == "receive"
    assert operations["notification-keys.consumes.keys"]["action"] == "receive"
    assert operations["registration.publishes.registration"]["action"] == "send"


def test_the_command_writes_the_documents_and_drops_stale_schemas(tmp_path: Path) -> None:
    stale = tmp_path / "schemas" / "gone.v1.json"
    stale.parent.mkdir()
    stale.write_text("{}")
    assert export_main([str(tmp_path)]) == 0
    written = {str(p.relative_to(tmp_path)): p.read_text() for p in tmp_path.rglob("*.json")}
    assert written == _documents()
