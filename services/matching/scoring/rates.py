"""The dated exchange-rate table that scoring converts money with (configuration:
`exchange_rates.json` beside this module, seeded with CNY, USD, EUR, HKD and JPY).

Funding sought and ticket ranges are compared in the table's base currency, so a
fund's CNY range and a USD funding need meet on one scale; a currency the table
does not list is compared only with amounts in that same currency.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

RATES_FILE = Path(__file__).with_name("exchange_rates.json")


@dataclass(frozen=True)
class RateTable:
    date: date
    base: str
    per_base: dict[str, float]  # units of the currency per 1 unit of base

    def __post_init__(self) -> None:
        if self.per_base.get(self.base) != 1.0:
            raise ValueError(f"the base currency {self.base} must be listed at 1.0")
        for currency, rate in self.per_base.items():
            if not rate > 0:
                raise ValueError(f"rate of {currency} must be positive")

    def knows(self, currency: str | None) -> bool:
        return currency is not None and currency.upper() in self.per_base

    def to_base(self, amount: float, currency: str) -> float:
        """`amount` of `currency` in the base currency (KeyError for an unknown one)."""
        return amount / self.per_base[currency.upper()]

    def convert(self, amount: float, source: str, target: str) -> float:
        return self.to_base(amount, source) * self.per_base[target.upper()]


def load_rates(path: Path = RATES_FILE) -> RateTable:
    raw = json.loads(path.read_text())
    return RateTable(
        date=date.fromisoformat(raw["date"]),
        base=raw["base"],
        per_base={k.upper(): float(v) for k, v in raw["per_base"].items()},
    )


RATES = load_rates()
