from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from shared.settings import PersonalDataSettings, ServiceSettings


class RegistrationSettings(PersonalDataSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REGISTRATION_", extra="ignore", frozen=True)

    http_port: int = Field(default=8081, ge=0, le=65535)
    admin_token: SecretStr = Field(
        default=SecretStr(""),
        description="Operator token for /admin routes; empty disables them",
    )
