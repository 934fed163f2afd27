"""The console's settings (env prefix CONSOLE_). It has no database and no broker:
it only knows where the three services' public APIs are."""

from __future__ import annotations

from typing import Literal

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore", frozen=True)

    http_host: str = Field(default="127.0.0.1", description="Address the console binds")
    http_port: int = Field(default=8084, ge=0, le=65535, description="Port the console binds")
    registration_url: str = Field(
        default="http://127.0.0.1:8081", description="Base URL of registration's public API"
    )
    matching_url: str = Field(
        default="http://127.0.0.1:8082", description="Base URL of matching's public API"
    )
    notification_url: str = Field(
        default="http://127.0.0.1:8083", description="Base URL of notification's public API"
    )
    session_key: SecretStr = Field(
        description="Fernet key (urlsafe base64 of 32 bytes) that encrypts the session cookie,"
        " which holds the signed-in partner's API key",
    )
    cookie_secure: bool = Field(
        default=False,
        description="Send the session cookie over HTTPS only (on behind TLS; off for local HTTP)",
    )
    session_max_age_seconds: int = Field(
        default=8 * 3600, ge=60, description="A sign-in lasts this long at most"
    )
    api_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long one call to a service may take"
    )
    fair_minimum: int = Field(
        default=4,
        ge=0,
        le=48,
        description="The fair minimum the dashboard's capacity check assumes (matching's default)",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(default="info")
    log_file: str | None = Field(
        default=None, description="Also append JSON log lines to this file"
    )

    @field_validator("session_key")
    @classmethod
    def _a_fernet_key(cls, value: SecretStr) -> SecretStr:
        Fernet(value.get_secret_value())  # raises ValueError naming the problem
        return value
