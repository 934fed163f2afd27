"""The sector taxonomy and the other controlled vocabularies of a road show.

Sectors sit in groups; two sectors are *related* when they share a group or their
groups are linked (AI and big data, robotics and logistics, ...). Registration
validates against these lists and matching scores over them; docs/taxonomy.md
renders them for partners.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema

SECTOR_GROUPS: dict[str, tuple[str, ...]] = {
    "ai": (
        "artificial-intelligence",
        "machine-learning",
        "computer-vision",
        "natural-language-processing",
    ),
    "mobility": ("autonomous-driving", "electric-vehicles", "smart-transportation"),
    "logistics": ("logistics-networks", "supply-chain", "warehouse-automation"),
    "energy": ("battery-management", "energy-storage", "renewable-energy"),
    "data": ("big-data", "cloud-computing", "cybersecurity", "internet-of-things"),
    "robotics": ("robotics", "industrial-automation", "drones"),
    "health": ("healthtech", "biotech", "medical-devices"),
    "finance": ("fintech", "blockchain"),
    "manufacturing": ("advanced-manufacturing", "semiconductors", "new-materials"),
}

# Groups whose sectors feed each other's projects.
LINKED_GROUPS: frozenset[frozenset[str]] = frozenset(
    frozenset(pair)
    for pair in (
        ("ai", "data"),
        ("ai", "robotics"),
        ("ai", "mobility"),
        ("ai", "health"),
        ("mobility", "energy"),
        ("mobility", "logistics"),
        ("logistics", "robotics"),
        ("robotics", "manufacturing"),
        ("data", "finance"),
        ("energy", "manufacturing"),
    )
)

SECTORS: tuple[str, ...] = tuple(s for group in SECTOR_GROUPS.values() for s in group)
GROUP_OF: dict[str, str] = {s: g for g, group in SECTOR_GROUPS.items() for s in group}


def relation(a: str, b: str) -> str | None:
    """'same', 'group' or 'linked' for two sectors, None when unrelated."""
    if a == b:
        return "same"
    ga, gb = GROUP_OF.get(a), GROUP_OF.get(b)
    if ga is None or gb is None:
        return None
    if ga == gb:
        return "group"
    if frozenset((ga, gb)) in LINKED_GROUPS:
        return "linked"
    return None


def _known_sector(value: str) -> str:
    if value not in GROUP_OF:
        # Quote a little of the value, never all of it: error answers stay small.
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ValueError(f"unknown sector {shown!r}; see GET /v1/sectors")
    return value


# The schema lists the sectors, so clients (and generated requests) see what is accepted.
Sector = Annotated[
    str, AfterValidator(_known_sector), WithJsonSchema({"type": "string", "enum": list(SECTORS)})
]


class Stage(StrEnum):
    IDEA = "idea"
    SEED = "seed"
    SERIES_A = "series-a"
    SERIES_B = "series-b"
    GROWTH = "growth"
    PRE_IPO = "pre-ipo"


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)


class PartnershipType(StrEnum):
    EQUITY_INVESTMENT = "equity-investment"
    DEBT_FINANCING = "debt-financing"
    BANK_ACCOUNT_SERVICES = "bank-account-services"
    TRADE_FINANCE = "trade-finance"
    JOINT_VENTURE = "joint-venture"
    DISTRIBUTION = "distribution"
    TECHNOLOGY_LICENSING = "technology-licensing"
    RD_COLLABORATION = "rd-collaboration"
    MANUFACTURING = "manufacturing"
    MARKET_ENTRY = "market-entry"
    PILOT_CUSTOMER = "pilot-customer"


class ParticipantKind(StrEnum):
    COMPANY = "company"
    FUND = "fund"
    BANK = "bank"


# What each kind of participant may offer; a bank offers money and accounts, not R&D.
OFFERS_BY_KIND: dict[ParticipantKind, frozenset[PartnershipType]] = {
    ParticipantKind.BANK: frozenset(
        {
            PartnershipType.DEBT_FINANCING,
            PartnershipType.BANK_ACCOUNT_SERVICES,
            PartnershipType.TRADE_FINANCE,
            PartnershipType.MARKET_ENTRY,
        }
    ),
    ParticipantKind.FUND: frozenset(
        {PartnershipType.EQUITY_INVESTMENT, PartnershipType.MARKET_ENTRY}
    ),
    ParticipantKind.COMPANY: frozenset(PartnershipType),
}
