"""Notification settings: the shared ones plus delivery knobs, env prefix NOTIFICATION_."""

from __future__ import annotations

import re
from email.utils import parseaddr
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from shared.personal_data import parse_key
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


def parse_duration(value: Any) -> Any:
    """'24h' -> 86400.0; bare numbers are seconds."""
    if not isinstance(value, str):
        return value
    delays = parse_durations(value)
    if len(delays) != 1:
        raise ValueError("one duration, e.g. 24h")
    return delays[0]


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
    host_concurrency: int = Field(
        default=16,
        ge=0,
        description="Connections at once per receiving host in one worker process, however "
        "many subscriptions point there (0: no bound beyond worker_concurrency)",
    )
    worker_batch_size: int = Field(default=100, ge=1, le=10_000)
    worker_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often due retries are looked for"
    )
    dns_timeout_seconds: float = Field(
        default=5,
        gt=0,
        description="How long a subscription's host may take to resolve when it is checked",
    )
    held_event_max_age: float = Field(
        default=86_400,
        gt=0,
        description="How long a matching event waits for its parties' registration before "
        "it is forgotten, e.g. 24h",
    )
    held_check_seconds: float = Field(
        default=60, gt=0, description="How often held events are counted and expired"
    )

    # --- e-mail to people (docs/notification.md, "E-mail") ---------------------------

    personal_data_key: SecretStr | None = Field(
        default=None,
        description="Key-encryption key (base64url of 32 bytes) that unwraps people's keys "
        "from the keys topic, the same as registration's; needed only with email_enabled "
        "(nothing else here reads a person's data)",
    )
    email_enabled: bool = Field(
        default=False,
        description="Send schedules, change notices and reminders to presidents and contacts "
        "by e-mail; off, their names and addresses are not even stored",
    )
    smtp_host: str = Field(default="localhost", min_length=1)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "tls"] = Field(
        default="starttls",
        description="none: plain SMTP (local relays and tests); starttls: upgrade, required; "
        "tls: implicit TLS (usually port 465)",
    )
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user; none: no AUTH")
    smtp_password: SecretStr | None = None
    smtp_helo_name: str | None = Field(
        default=None, description="Name this service gives in EHLO; unset: the host's FQDN"
    )
    smtp_timeout_seconds: float = Field(
        default=30, gt=0, description="Whole SMTP conversation of one message"
    )
    smtp_concurrency: int = Field(
        default=4, ge=1, description="SMTP conversations at once per worker process"
    )
    mail_from: str = Field(
        default="",
        description="From of every message, e.g. 'Roadshow <noreply@roadshow.example>'; "
        "its address is also the envelope sender (bounces) and names Message-IDs",
    )
    mail_reply_to: str | None = Field(default=None, description="Reply-To, e.g. the organisers")
    email_public_base_url: str = Field(
        default="",
        description="Public base URL of this service, for the unsubscribe link in messages",
    )
    email_token_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Key signing the links in messages (unsubscribe, answers on matches, "
        "feedback after a meeting; "
        "32+ characters); changing it voids the links in messages already sent",
    )
    email_match_mail: bool = Field(
        default=True,
        description="With email_enabled: e-mail each person their proposed matches with "
        "accept / decline / must-meet links, then a daily digest of what changed",
    )
    email_match_settle: float = Field(
        default=300,
        ge=0,
        description="How long a person's match e-mail waits for more changes before it "
        "goes (a registration rush ends in one message), e.g. 5m",
    )
    email_match_check_seconds: float = Field(
        default=30, gt=0, description="How often due match e-mails are made"
    )
    email_answer_link_ttl: float = Field(
        default=14 * 86_400,
        gt=0,
        description="How long the answer links in a match e-mail work after it is sent, e.g. 14d",
    )
    email_feedback_mail: bool = Field(
        default=True,
        description="With email_enabled: once a published meeting has ended, e-mail each "
        "side's person a link to say whether it took place, their interest and next step",
    )
    email_feedback_link_ttl: float = Field(
        default=30 * 86_400,
        gt=0,
        description="How long the link of a feedback e-mail works after it is sent, e.g. 30d",
    )
    email_feedback_window: float = Field(
        default=7 * 86_400,
        gt=0,
        description="Meetings that ended longer ago than this when the feedback loop first "
        "sees them over (e.g. after a late replay) are not asked about, e.g. 7d",
    )
    email_reminder_lead: float = Field(
        default=86_400,
        gt=0,
        description="How long before a person's first meeting the reminder goes out, e.g. 24h",
    )
    email_retry_schedule: Annotated[tuple[float, ...] | None, NoDecode] = Field(
        default=None,
        min_length=1,
        max_length=30,
        description="Delays before each e-mail retry; unset: the webhook RETRY_SCHEDULE",
    )

    _durations = field_validator("retry_schedule", "email_retry_schedule", mode="before")(
        parse_durations
    )
    _duration = field_validator(
        "email_reminder_lead",
        "held_event_max_age",
        "email_match_settle",
        "email_answer_link_ttl",
        "email_feedback_link_ttl",
        "email_feedback_window",
        mode="before",
    )(parse_duration)

    @field_validator("retry_schedule", "email_retry_schedule")
    @classmethod
    def _positive(cls, value: tuple[float, ...] | None) -> tuple[float, ...] | None:
        if value is not None and any(d < 0 for d in value):
            raise ValueError("delays must not be negative")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_request(self) -> NotificationSettings:
        # A lease shorter than a request would let a second worker send the same
        # notification while the first is still waiting for its answer.
        if self.delivery_lease_seconds <= self.request_timeout_seconds:
            raise ValueError("delivery_lease_seconds must exceed request_timeout_seconds")
        return self

    @model_validator(mode="after")
    def _email_configured(self) -> NotificationSettings:
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("set both smtp_username and smtp_password, or neither")
        if self.smtp_username is not None and self.smtp_tls == "none":
            # Credentials never travel in clear.
            raise ValueError("SMTP credentials need smtp_tls starttls or tls")
        if not self.email_enabled:
            return self
        # The lease must outlast an SMTP conversation for the same reason as a request.
        if self.delivery_lease_seconds <= self.smtp_timeout_seconds:
            raise ValueError("delivery_lease_seconds must exceed smtp_timeout_seconds")
        if "@" not in parseaddr(self.mail_from)[1]:
            raise ValueError("mail_from must hold an address when email_enabled")
        if not self.email_public_base_url.startswith(("https://", "http://")):
            raise ValueError("email_public_base_url must be an http(s) URL when email_enabled")
        if len(self.email_token_secret.get_secret_value()) < 32:
            raise ValueError("email_token_secret needs 32+ characters when email_enabled")
        if self.personal_data_key is None:
            raise ValueError("personal_data_key is needed when email_enabled")
        return self

    @property
    def kek(self) -> bytes | None:
        return (
            None
            if self.personal_data_key is None
            else parse_key(self.personal_data_key.get_secret_value())
        )

    @field_validator("personal_data_key")
    @classmethod
    def _a_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_key(value.get_secret_value())
        return value

    @property
    def email_schedule(self) -> tuple[float, ...]:
        return self.email_retry_schedule or self.retry_schedule
