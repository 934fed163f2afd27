"""Request bodies for tests. Every person's name, e-mail and phone made here is
remembered in PEOPLE, so the last test can prove none of them reached a log."""

from __future__ import annotations

import random
import uuid
from typing import Any

PEOPLE: set[str] = set()

_FIRST = [
    "Avery",
    "Jordan",
    "Morgan",
    "Riley",
    "Casey",
    "Taylor",
    "Quinn",
    "Harper",
    "Rowan",
    "Emerson",
]
_LAST = [
    "Whitfield",
    "Okonkwo",
    "Lindqvist",
    "Castellano",
    "Nakamura",
    "Abernathy",
    "Delacroix",
    "Van Buren",
]


def person(rng: random.Random | None = None) -> dict[str, str]:
    rng = rng or random.Random()
    tag = uuid.uuid4().hex[:6]
    name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}{tag.capitalize()}"
    email = f"{name.split()[0].lower()}.{tag}@example-{tag}.com"
    phone = f"+1 415 {rng.randint(200, 999)} {rng.randint(1000, 9999)}"
    PEOPLE.update({name, email, phone})
    return {"name": name, "title": "President", "email": email, "phone": phone}


def roadshow(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "North American intelligent technology road show",
        "venue": "Caohejing High-Tech Park, Shanghai",
        "timezone": "Asia/Shanghai",
        "start_date": "2027-05-15",
        "end_date": "2027-05-15",
        "day_start": "09:00",
        "day_end": "17:00",
        "slot_minutes": 30,
        "tables": 20,
    }
    return {**body, **overrides}


def enterprise(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": f"Autonomy Labs {uuid.uuid4().hex[:4]}",
        "country": "US",
        "sectors": ["autonomous-driving", "computer-vision"],
        "president": person(),
        "project": {
            "title": "Lidar-free urban autonomy stack",
            "summary": "Camera-only perception and planning for delivery vehicles in dense cities.",
            "stage": "series-a",
            "funding_amount": "5000000",
            "funding_currency": "USD",
            "partnership_types": ["equity-investment", "pilot-customer", "bank-account-services"],
        },
    }
    return {**body, **overrides}


def delegation(roadshow_id: str, enterprises: int = 2, **overrides: Any) -> dict[str, Any]:
    body = {
        "roadshow_id": roadshow_id,
        "name": "North American intelligent technology delegation",
        "origin_country": "US",
        "enterprises": [enterprise() for _ in range(enterprises)],
    }
    return {**body, **overrides}


def participant(roadshow_id: str, kind: str = "fund", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "roadshow_id": roadshow_id,
        "kind": kind,
        "name": f"Pudong {kind.title()} {uuid.uuid4().hex[:4]}",
        "sectors": ["artificial-intelligence", "robotics"],
        "focus": "Early-stage AI and robotics companies entering the Chinese market.",
        "offers": ["equity-investment"]
        if kind == "fund"
        else ["debt-financing", "bank-account-services"],
        "contact": person(),
    }
    if kind == "fund":
        body.update(
            stages=["seed", "series-a"], ticket_min="1000000", ticket_max="10000000", currency="USD"
        )
    if kind == "company":
        body["offers"] = ["joint-venture", "distribution"]
    return {**body, **overrides}
