"""The three OpenAPI documents as other tools read them: valid OpenAPI 3.1
(openapi-spec-validator), with the formats, media types, statuses, examples and
webhooks of what the services really serve."""

from __future__ import annotations

import functools
import importlib
import json
import re
import uuid
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate
from pydantic import BaseModel

from services.notification.http import webhooks
from services.notification.parties.model import Party
from services.notification.webhooks.routing import WEBHOOK_EVENT_TYPES, build_body
from shared.contracts.matching import (
    FeedbackRecorded,
    FollowUpDue,
    FollowUpRecorded,
    Match,
    MatchComponent,
    Meeting,
    MeetingMoved,
    match_id_for,
)
from shared.contracts.registration import Roadshow
from shared.http.api import Api
from shared.http.app import served_document
from shared.http.openapi import path_params

SERVICES = ("registration", "matching", "notification")


def _api(service: str) -> Api:
    api: Api = importlib.import_module(f"services.{service}.http.routes").api
    return api


@functools.cache
def _document(service: str) -> dict[str, Any]:
    return served_document(_api(service))


@pytest.fixture(scope="module", params=SERVICES)
def spec(request: pytest.FixtureRequest) -> dict[str, Any]:
    return _document(request.param)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, m, op) for path, ops in spec["paths"].items() for m, op in ops.items()]


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_each_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    validate(spec)  # raises, naming the first violation
    assert spec["openapi"] == "3.1.0" and spec["servers"]
    names = spec["components"]["schemas"]
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", n) for n in names), sorted(names)
    for ref in _refs(spec):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[-1] in names, ref


def test_path_ids_are_uuids_and_statuses_say_what_they_mean(spec: dict[str, Any]) -> None:
    for path, _, op in _operations(spec):
        declared = {p["name"]: p["schema"] for p in op["parameters"] if p["in"] == "path"}
        assert set(declared) == set(path_params(path)), path
        for name, schema in declared.items():
            if name.endswith("_id"):
                assert schema == {"type": "string", "format": "uuid"}, (path, name)
            else:
                assert schema.get("enum"), (path, name)  # role, asset name: a closed set
        responses = op["responses"]
        assert "4XX" in responses
        for status, answer in responses.items():
            phrase = answer["description"]
            assert {"201": "Created", "202": "Accepted", "204": "No Content"}.get(
                status, ""
            ) in phrase, (path, status, phrase)


def test_a_time_of_day_is_declared_as_it_is_served() -> None:
    """RFC 3339 partial-time (no offset), which is what pydantic writes."""
    spec = _document("registration")
    day_start = spec["components"]["schemas"]["Roadshow"]["properties"]["day_start"]
    assert day_start["format"] == "partial-time"
    served = Roadshow(
        roadshow_id=uuid.uuid4(),
        name="n",
        venue="v",
        timezone="Asia/Shanghai",
        start_date=datetime(2027, 5, 15).date(),
        end_date=datetime(2027, 5, 15).date(),
        day_start=time(9, 0),
        day_end=time(17, 30, 15, 500),
        slot_minutes=20,
        tables=3,
        version=1,
    ).model_dump(mode="json")
    for name in ("day_start", "day_end"):
        assert re.match(day_start["pattern"], served[name]), served[name]
    assert not re.match(day_start["pattern"], "09:00:00+08:00")


def test_csv_and_icalendar_answers_are_declared() -> None:
    paths = _document("matching")["paths"]
    organiser = paths["/v1/roadshows/{roadshow_id}/schedule"]["get"]["responses"]["200"]
    assert set(organiser["content"]) == {"application/json", "text/csv"}
    party = paths["/v1/participants/{participant_id}/schedule"]["get"]["responses"]["200"]
    assert set(party["content"]) == {"application/json", "text/csv", "text/calendar"}
    page = _document("notification")["paths"]["/v1/email/unsubscribe"]
    assert "text/html" in page["get"]["responses"]["200"]["content"]


def _models_of(service: str) -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for e in _api(service).endpoints:
        for model in (e.body, e.response, e.query):
            if model is not None:
                found[model.__name__] = model
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_example_is_accepted_by_its_model(service: str) -> None:
    spec = _document(service)
    models = _models_of(service)
    examples = [
        (name, ex)
        for name, schema in spec["components"]["schemas"].items()
        for ex in schema.get("examples", [])
        if name in models
    ]
    assert examples, "no request body of this service gives an example"
    for name, ex in examples:
        models[name].model_validate(ex)


# --- webhooks ---------------------------------------------------------------------------

NOW = datetime(2027, 5, 15, 1, 30, tzinfo=UTC)
PARTICIPANT = Party(uuid.uuid4(), "Xuhui AI Capital", "fund", None, ("robotics",))
ENTERPRISE = Party(uuid.uuid4(), "Nova AI", None, "US", ("robotics", "big-data"))


def _match() -> Match:
    return Match(
        match_id=match_id_for(ENTERPRISE.id, PARTICIPANT.id),
        roadshow_id=uuid.uuid4(),
        enterprise_id=ENTERPRISE.id,
        participant_id=PARTICIPANT.id,
        participant_kind="fund",
        score=0.81,
        components=[MatchComponent(name="sector_fit", score=1, weight=0.4, reason="robotics")],
        status="proposed",
        version=2,
    )


def _meeting(moved: bool) -> Meeting:
    fields: dict[str, Any] = {
        "meeting_id": uuid.uuid4(),
        "schedule_id": uuid.uuid4(),
        "roadshow_id": uuid.uuid4(),
        "match_id": uuid.uuid4(),
        "enterprise_id": ENTERPRISE.id,
        "participant_id": PARTICIPANT.id,
        "slot": 3,
        "table": 7,
        "starts_at": NOW,
        "ends_at": NOW,
        "timezone": "Asia/Shanghai",
        "score": 0.7,
        "status": "scheduled",
    }
    if moved:
        return MeetingMoved(
            **fields,
            previous_slot=1,
            previous_table=2,
            previous_starts_at=NOW,
            previous_ends_at=NOW,
        )
    return Meeting(**fields)


def _after_meeting(event_type: str) -> FeedbackRecorded | FollowUpDue | FollowUpRecorded:
    about: dict[str, Any] = {
        "meeting_id": uuid.uuid4(),
        "roadshow_id": uuid.uuid4(),
        "match_id": match_id_for(ENTERPRISE.id, PARTICIPANT.id),
        "enterprise_id": ENTERPRISE.id,
        "participant_id": PARTICIPANT.id,
    }
    if event_type == "feedback.recorded":
        return FeedbackRecorded(
            **about,
            side="participant",
            took_place="held",
            interest="high",
            next_step="due-diligence",
            version=2,
        )
    if event_type == "follow-up.due":
        return FollowUpDue(**about, ended_at=NOW, due_at=NOW)
    return FollowUpRecorded(
        **about,
        stage="invested",
        amount=Decimal("2000000.00"),
        currency="USD",
        reported_by="enterprise",
        version=1,
    )


def _sample(event_type: str) -> Match | Meeting | FeedbackRecorded | FollowUpDue | FollowUpRecorded:
    if event_type.startswith("match."):
        return _match()
    if event_type.startswith("meeting."):
        return _meeting(moved=event_type == "meeting.moved")
    return _after_meeting(event_type)


def test_webhooks_describe_every_body_a_subscriber_receives() -> None:
    """Each type a subscription can ask for is a webhook of the document, and the
    body the service sends validates against it, as its model and as JSON Schema."""
    spec = _document("notification")
    assert set(spec["webhooks"]) == set(WEBHOOK_EVENT_TYPES)
    components = spec["components"]["schemas"]
    for event_type in WEBHOOK_EVENT_TYPES:
        hook = spec["webhooks"][event_type]["post"]
        headers = {p["name"] for p in hook["parameters"] if p["in"] == "header"}
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= headers
        body = json.loads(
            build_body(event_type, uuid.uuid4(), NOW, _sample(event_type), PARTICIPANT, ENTERPRISE)
        )
        webhooks.WHAT[event_type][1].model_validate(body)  # extra fields are refused
        schema = hook["requestBody"]["content"]["application/json"]["schema"]
        resolvable = {**schema, "components": {"schemas": components}}
        jsonschema.validate(
            body, resolvable, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
