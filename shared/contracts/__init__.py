"""Event contracts: one pydantic model per (type, version), looked up by `contract_for`.

Changes are additive; a breaking change is a new version with a new model.
"""

from __future__ import annotations

from pydantic import BaseModel

from shared.contracts.interest import INTEREST_CONTRACTS
from shared.contracts.matching import MATCHING_CONTRACTS
from shared.contracts.notification import NOTIFICATION_CONTRACTS
from shared.contracts.registration import REGISTRATION_CONTRACTS
from shared.envelope import Envelope

CONTRACTS: dict[tuple[str, int], type[BaseModel]] = {
    **REGISTRATION_CONTRACTS,
    **MATCHING_CONTRACTS,
    **INTEREST_CONTRACTS,
    **NOTIFICATION_CONTRACTS,
}


class UnknownEventType(LookupError):
    pass


def contract_for(event_type: str, version: int) -> type[BaseModel]:
    try:
        return CONTRACTS[(event_type, version)]
    except KeyError:
        raise UnknownEventType(f"{event_type} v{version}") from None


def parse_data(envelope: Envelope) -> BaseModel:
    """Validate an envelope's data against its contract (raises ValidationError)."""
    return contract_for(envelope.type, envelope.version).model_validate(envelope.data)
