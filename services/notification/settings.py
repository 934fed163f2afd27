"""Notification settings: the shared ones plus delivery knobs, env prefix NOTIFICATION_."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.settings import ServiceSettings

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_durations(value: Any) -> Any:
    """'5s,5m,30m,2h' (or a list of seconds) -> seconds; bare numbers are seconds."""
    if not isinstance(value, str):
        return value
    delays = []
    for part in value.split(","):
        found = _DURATION.match(part)
        if found is None:
            raise ValueError(f"not a duration: {part.strip()!r} (use e.g. 5s, 5m, 2h)")
        delays.append(float(found.group(1)) * _UNITS[found.group(2) or "s"])
    return tuple(delays)


class NotificationSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATION_", extra="ignore", frozen=True)

    http_port: int = Field(default=8083, ge=0, le=65535)
    admin_token: SecretStr = Field(
        default=SecretStr(""),
        description="Operator token for /admin routes (bulk redelivery); empty disables them",
    )
    allow_private_endpoints: bool = Field(
        default=False,
        description="Allow http:// and loopback/private endpoints: local development and "
        "tests only, never in production",
    )
    retry_schedule: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(5, 300, 1800, 7200, 18000, 36000, 36000),
        min_length=1,
        max_length=30,
        description="Delays before each retry, e.g. '5s,5m,30m,2h,5h,10h,10h' "
        "(one first try plus one retry per delay, about a day in all)",
    )
    retry_jitter: float = Field(
        default=0.2, ge=0, le=0.5, description="Each delay varies by up to this fraction"
    )
    retry_after_cap_seconds: float = Field(
        default=36_000, ge=0, description="Longest Retry-After a receiver can ask for"
    )
    request_timeout_seconds: float = Field(
        default=15, gt=0, description="Whole-request timeout of one delivery attempt"
    )
    connect_timeout_seconds: float = Field(default=5, gt=0)
    delivery_lease_seconds: float = Field(
        default=60,
        gt=0,
        description="How long a claimed delivery belongs to its worker; a dead worker's "
        "deliveries are claimed again after this",
    )
    worker_concurrency: int = Field(
        default=32, ge=1, description="Requests in flight per worker process"
    )
    endpoint_concurrency: int = Field(
        default=4, ge=1, description="Requests in flight per subscription, across all workers"
    )
    worker_batch_size: int = Field(default=100, ge=1, le=10_000)
    worker_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often due retries are looked for"
    )

    _durations = field_validator("retry_schedule", mode="before")(parse_durations)

    @field_validator("retry_schedule")
    @classmethod
    def _positive(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(d < 0 for d in value):
            raise ValueError("delays must not be negative")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_request(self) -> NotificationSettings:
        # A lease shorter than a request would let a second worker send the same
        # notification while the first is still waiting for its answer.
        if self.delivery_lease_seconds <= self.request_timeout_seconds:
            raise ValueError("delivery_lease_seconds must exceed request_timeout_seconds")
        return self
