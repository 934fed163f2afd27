"""Event contracts: one pydantic model per (type, version), in one registry.

Changes are additive; a breaking change is a new version with a new model.
"""

from __future__ import annotations

from typing import TypeAlias

from pydantic import BaseModel

from shared.contracts.base import Contract, ContractRegistry, UnknownEventType
from shared.contracts.matching import MATCHING_CONTRACTS, MatchingEventType
from shared.contracts.notification import NOTIFICATION_CONTRACTS, NotificationEventType
from shared.contracts.registration import REGISTRATION_CONTRACTS, RegistrationEventType
from shared.envelope import Envelope

EventType: TypeAlias = RegistrationEventType | MatchingEventType | NotificationEventType

CONTRACTS = ContractRegistry(REGISTRATION_CONTRACTS, MATCHING_CONTRACTS, NOTIFICATION_CONTRACTS)


def contract_for(event_type: str, version: int) -> type[BaseModel]:
    return CONTRACTS.contract_for(event_type, version)


def parse_data(envelope: Envelope) -> BaseModel:
    """Validate an envelope's data against its contract (raises ValidationError)."""
    return CONTRACTS.parse(envelope.type, envelope.version, envelope.data)


__all__ = [
    "CONTRACTS",
    "Contract",
    "ContractRegistry",
    "EventType",
    "UnknownEventType",
    "contract_for",
    "parse_data",
]
