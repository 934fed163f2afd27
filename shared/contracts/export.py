"""The event contracts as documents a non-Python consumer can use: one JSON Schema
per (type, version) of the registry, and an AsyncAPI 3 document of the topics
(keys, headers, payloads, who produces and who consumes), both generated from the
pydantic models. `python -m shared.contracts.export [folder]` writes them
(default docs/contracts/); a test regenerates them and fails on any drift.

A message's payload is the envelope (`shared.envelope.Envelope`) with `type` and
`version` fixed and `data` the contract."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shared.contracts import CONTRACTS
from shared.contracts.matching import MATCHING_CONTRACTS
from shared.contracts.notification import NOTIFICATION_CONTRACTS
from shared.contracts.registration import REGISTRATION_CONTRACTS
from shared.envelope import Envelope
from shared.json_schema import schemas_of, standalone
from shared.topics import PARTITIONS, Topics

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_FOLDER = ROOT / "docs" / "contracts"
SCHEMA_ID = "https://roadshow.dev/contracts/schemas/{name}.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"
KAFKA_BINDING = "0.5.0"
# The events registration puts on the keys topic rather than its own.
KEY_EVENTS = frozenset({"person.key_issued", "person.key_destroyed"})


@dataclass(frozen=True)
class Stream:
    """One topic: who writes it, who reads it, and what it carries."""

    name: str
    address: str
    producer: str
    # The consumer groups reading it, by their default names (the bootstraps':
    # notification runs one group per topic, matching's answers consumer its own).
    consumers: tuple[str, ...]
    events: tuple[tuple[str, int], ...]
    description: str
    compacted: bool = False


def streams(topics: Topics | None = None) -> list[Stream]:
    """The suite's topics as the services' bootstraps wire them."""
    t = topics or Topics()
    registration = tuple(k for k in REGISTRATION_CONTRACTS if k[0] not in KEY_EVENTS)
    keys = tuple(k for k in REGISTRATION_CONTRACTS if k[0] in KEY_EVENTS)
    return [
        Stream(
            "registration",
            t.registration,
            "registration",
            ("matching", "notification-registration"),
            registration,
            "Partners, road shows, delegations, enterprises and participants: each "
            "registered or updated event carries the aggregate's whole state and version.",
        ),
        Stream(
            "keys",
            t.keys,
            "registration",
            ("notification-keys",),
            keys,
            "The keys that open a person's sealed fields; erasure destroys them.",
            compacted=True,
        ),
        Stream(
            "matching",
            t.matching,
            "matching",
            ("notification-matching",),
            tuple(MATCHING_CONTRACTS),
            "Explained matches, interest, attendance and the meeting schedule.",
        ),
        Stream(
            "notification",
            t.notification,
            "notification",
            ("matching-answers",),
            tuple(NOTIFICATION_CONTRACTS),
            "The outcome of each webhook delivery, the answers people give on their "
            "matches through the links in their e-mail (answer.given, which matching "
            "records as the side's interest), and their feedback after a meeting through "
            "the link of the feedback e-mail (feedback.given, which matching records as "
            "the side's feedback).",
        ),
    ]


def message_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}"


def _title(model: type[BaseModel]) -> str:
    return (model.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


def _envelope(event_type: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    """The envelope's schema with this event's type, version and data."""
    schema = standalone(Envelope, "serialization")
    props = dict(schema["properties"])
    props["type"] = {"const": event_type, "type": "string"}
    props["version"] = {"const": version, "type": "integer"}
    props["data"] = data
    required = sorted({*schema.get("required", []), "type", "version", "data"})
    return {**schema, "properties": props, "required": required}


def event_schemas() -> dict[str, dict[str, Any]]:
    """message name -> a self-contained JSON Schema (2020-12) of that event."""
    out: dict[str, dict[str, Any]] = {}
    for event_type, version in sorted(CONTRACTS.keys()):
        model = CONTRACTS.contract_for(event_type, version)
        data = standalone(model, "serialization")
        defs = data.pop("$defs", {})
        name = message_name(event_type, version)
        schema = _envelope(event_type, version, data)
        schema.pop("title", None)
        out[name] = {
            "$schema": DRAFT,
            "$id": SCHEMA_ID.format(name=name),
            "title": f"{event_type} v{version}",
            "description": _title(model) or f"The {event_type} event ({model.__name__})",
            **schema,
            **({"$defs": defs} if defs else {}),
        }
    return out


HEADERS_SCHEMA = {
    "type": "object",
    "description": "Kafka headers of every event (also in the envelope), for tools that "
    "read no payload",
    "required": ["event_type", "correlation_id"],
    "properties": {
        "event_type": {"type": "string", "description": "The envelope's type"},
        "correlation_id": {
            "type": "string",
            "description": "The flow's id, from the request that started it",
        },
    },
}
DEAD_LETTER_HEADERS = {
    "type": "object",
    "description": "Why the consumer gave the record up; the value and key are the original's",
    "properties": {
        name: {"type": "string"}
        for name in (
            "reason",
            "error",
            "consumer",
            "source_topic",
            "source_partition",
            "source_offset",
        )
    },
}


def asyncapi(topics: Topics | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the suite's topics."""
    keys = sorted(CONTRACTS.keys())
    models = [(CONTRACTS.contract_for(*k), "serialization") for k in keys]
    refs, defs = schemas_of(models, "#/components/schemas/{model}")  # type: ignore[arg-type]
    schemas: dict[str, Any] = {**defs, "KafkaHeaders": HEADERS_SCHEMA}
    schemas["DeadLetterHeaders"] = DEAD_LETTER_HEADERS
    messages: dict[str, Any] = {}
    for (event_type, version), ref in zip(keys, refs, strict=True):
        name = message_name(event_type, version)
        model = CONTRACTS.contract_for(event_type, version)
        schemas[f"{name}.envelope"] = _envelope(event_type, version, ref)
        messages[name] = {
            "name": event_type,
            "title": f"{event_type} v{version}",
            "summary": _title(model) or f"{event_type} ({model.__name__})",
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/KafkaHeaders"},
            "payload": {"$ref": f"#/components/schemas/{name}.envelope"},
            "correlationId": {"$ref": "#/components/correlationIds/flow"},
            "bindings": {"kafka": _key_binding()},
        }
    messages["dead-letter"] = {
        "name": "dead-letter",
        "title": "A record a consumer could not handle",
        "contentType": "application/json",
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {"description": "The original record's value, as it was"},
    }
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for s in streams(topics):
        _add_stream(s, channels, operations)
    known = {k for s in streams(topics) for k in s.events}
    missing = sorted(set(CONTRACTS.keys()) - known)
    if missing:
        raise ValueError(f"contracts on no topic: {missing}; add them to streams()")
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Roadshow events",
            "version": "1.0.0",
            "description": "The topics between Roadshow's services. Every event is a JSON "
            "envelope keyed by its aggregate's id (so one aggregate's events stay in order "
            "on one partition); contracts change additively, a breaking change is a new "
            "version. Consumers are idempotent (an inbox keyed by the envelope's id) and "
            "ignore types they do not handle.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "`make up`'s embedded broker",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "correlationIds": {
                "flow": {
                    "description": "The flow a request started, through every service",
                    "location": "$message.header#/correlation_id",
                }
            },
        },
    }


def _key_binding() -> dict[str, Any]:
    return {
        "key": {
            "type": "string",
            "description": "The envelope's key: the aggregate's id, or the shard of ids a batch "
            "carries, so one aggregate's events stay in order on one partition",
        },
        "bindingVersion": KAFKA_BINDING,
    }


def _add_stream(s: Stream, channels: dict[str, Any], operations: dict[str, Any]) -> None:
    names = [message_name(*k) for k in s.events]
    topic_config: dict[str, Any] = {"cleanup.policy": ["compact"]} if s.compacted else {}
    channels[s.name] = {
        "address": s.address,
        "title": s.address,
        "description": s.description,
        "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        "bindings": {
            "kafka": {
                "topic": s.address,
                "partitions": PARTITIONS,
                **({"topicConfiguration": topic_config} if topic_config else {}),
                "bindingVersion": KAFKA_BINDING,
            }
        },
    }
    refs = [{"$ref": f"#/channels/{s.name}/messages/{n}"} for n in names]
    operations[f"{s.producer}.publishes.{s.name}"] = {
        "action": "send",
        "channel": {"$ref": f"#/channels/{s.name}"},
        "title": f"{s.producer} publishes to {s.address}",
        "summary": "Through its outbox: saved with the change, relayed after commit",
        "messages": refs,
    }
    dead_letters = f"{s.name}.dlq"
    if s.consumers:
        channels[dead_letters] = {
            "address": Topics.dead_letter(s.address),
            "description": f"What {s.address}'s consumers gave up on (unparseable or "
            "contract-invalid records, or a handler's lasting error)",
            "messages": {"dead-letter": {"$ref": "#/components/messages/dead-letter"}},
        }
    for consumer in s.consumers:
        operations[f"{consumer}.consumes.{s.name}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{s.name}"},
            "title": f"{consumer} consumes {s.address}",
            "summary": f"Consumer group {consumer}; handles the types it knows",
            "messages": refs,
        }
        operations[f"{consumer}.dead-letters.{s.name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{dead_letters}"},
            "title": f"{consumer} dead-letters records of {s.address}",
            "messages": [{"$ref": f"#/channels/{dead_letters}/messages/dead-letter"}],
        }


def documents() -> dict[str, str]:
    """Relative path -> file content, for everything the command writes."""
    files = {f"schemas/{name}.json": _dump(schema) for name, schema in event_schemas().items()}
    files["asyncapi.json"] = _dump(asyncapi())
    return files


def _dump(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def write(folder: Path) -> list[Path]:
    """Write every document, and remove schemas of contracts no longer in the registry."""
    files = documents()
    written = []
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(path)
    for old in (folder / "schemas").glob("*.json"):
        if f"schemas/{old.name}" not in files:
            old.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.contracts.export",
        description="Write the event contracts' JSON Schemas and the AsyncAPI document.",
    )
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    args = parser.parse_args(argv)
    written = write(args.folder)
    print(f"wrote {len(written)} files to {args.folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
