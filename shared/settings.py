"""Settings every service shares, parsed from the environment by pydantic-settings.

Each service subclasses `ServiceSettings` with its own env prefix
(`REGISTRATION_`, `MATCHING_`, `NOTIFICATION_`), so one machine can run all three
with different databases and ports. A bad value fails at start-up with the
variable's name (see `load_settings`).
"""

from __future__ import annotations

import sys
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.personal_data import parse_key
from shared.topics import Topics

# A service process's event loop (shared/runtime.run_in_loop).
EventLoop = Literal["uvloop", "asyncio"]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    database_url: SecretStr = Field(
        description="asyncpg DSN of this service's own database",
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="Comma-separated Kafka bootstrap servers"
    )
    event_loop: EventLoop = Field(
        default="uvloop",
        description="The process's event loop: uvloop (libuv), or asyncio's own (its debug mode)",
    )
    kafka_idempotent_producer: bool = Field(
        default=False,
        description="Enable the idempotent producer; Apache Kafka supports it, "
        "the embedded tansu broker does not",
    )
    topic_prefix: str = Field(
        default="roadshow.",
        description="Prefix of every topic name; tests use a fresh one per test",
    )
    http_host: str = Field(default="127.0.0.1", description="Address the HTTP API binds")
    http_port: int = Field(default=8080, ge=0, le=65535, description="Port the HTTP API binds")
    http_max_body_bytes: int = Field(
        default=1_048_576, gt=0, description="Largest request body accepted"
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info")
    log_file: str | None = Field(
        default=None, description="Also append JSON log lines to this file"
    )
    db_pool_max: int = Field(default=10, ge=1, description="Largest database pool size")
    outbox_batch_size: int = Field(default=500, ge=1, le=10_000)
    outbox_poll_seconds: float = Field(
        default=1.0, gt=0, description="Polling fallback when no NOTIFY arrives"
    )
    consumer_max_attempts: int = Field(
        default=5, ge=1, description="Tries of one message before it goes to the dead-letter topic"
    )
    consumer_retry_base_seconds: float = Field(default=0.2, ge=0)
    consumer_session_timeout_ms: int = Field(
        default=10_000, ge=1_000, description="How soon a dead group member's partitions move on"
    )
    consumer_max_batch: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Records a consumer takes per poll; a partition's share is one transaction",
    )
    fetch_max_wait_ms: int = Field(
        default=50, ge=1, description="How long a fetch waits for data; latency follows it"
    )

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)


class PersonalDataSettings(BaseSettings):
    """For the services that read or write people's sealed fields (crypto-shredding)."""

    personal_data_key: SecretStr = Field(
        description="Key-encryption key (base64url of 32 random bytes) that wraps each "
        "person's key on the keys topic; the same in registration and notification",
    )

    @field_validator("personal_data_key")
    @classmethod
    def _a_key(cls, value: SecretStr) -> SecretStr:
        parse_key(value.get_secret_value())
        return value

    @property
    def kek(self) -> bytes:
        return parse_key(self.personal_data_key.get_secret_value())


S = TypeVar("S", bound=BaseSettings)


def load_settings(cls: type[S]) -> S:
    """Parse settings or exit with a message naming each bad variable."""
    try:
        return cls()
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        lines = [
            f"  {prefix}{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
        sys.stderr.write("invalid settings:\n" + "\n".join(lines) + "\n")
        raise SystemExit(2) from None
