from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from services.matching.scoring.model import Weights
from shared.settings import ServiceSettings


class MatchingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MATCHING_", extra="ignore", frozen=True)

    http_port: int = Field(default=8082, ge=0, le=65535)
    # A poll's party events are scored as blocks, one transaction each, of at most
    # `rescoring_pairs_per_transaction` pairs: a road show of 64 participants takes a
    # whole poll at once (its fixed statements paid once), a fair of 2,000 about 12
    # enterprises a transaction, as polls of 24 events had it (25 a transaction
    # published fewer webhooks by the fair's deadline in a same-hour pair).
    consumer_max_batch: int = Field(
        default=200,
        ge=1,
        le=10_000,
        description="Registration events per poll",
    )
    rescoring_pairs_per_transaction: int = Field(
        default=25_000,
        ge=1,
        description=(
            "Enterprise-participant pairs scored in one transaction at most (a party"
            " event weighs its road show's counterparts; a larger one goes alone)"
        ),
    )
    blas_threads: int = Field(
        default=1,
        ge=1,
        le=64,
        description=(
            "Threads numpy's matrix products (BLAS) may use in this process; scoring's"
            " products are small, and more threads spin on cores the event loop and the"
            " other services need"
        ),
    )
    consumer_group: str = Field(
        default="matching",
        min_length=1,
        description="Kafka consumer group (and inbox name) of the registration consumer",
    )

    weight_sector_fit: float = Field(default=0.30, ge=0, description="Weight of sector fit")
    weight_stage_fit: float = Field(default=0.15, ge=0, description="Weight of stage fit")
    weight_ticket_fit: float = Field(
        default=0.15, ge=0, description="Weight of funding sought against the ticket range"
    )
    weight_partnership_fit: float = Field(
        default=0.25, ge=0, description="Weight of partnership types sought against offered"
    )
    weight_text_similarity: float = Field(
        default=0.15, ge=0, description="Weight of summary/focus text similarity"
    )
    match_threshold: float = Field(
        default=0.45, ge=0, le=1, description="Pairs scoring at least this become matches"
    )
    match_update_delta: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="A match is re-published (match.updated) when its score moves this much",
    )

    index_max_roadshows: int = Field(
        default=64,
        ge=1,
        description="Road shows whose feature matrices a process keeps in memory at most"
        " (least recently used dropped first, rebuilt from the read model when next used)",
    )
    index_max_parties: int = Field(
        default=500_000,
        ge=1,
        description="Parties in all the in-memory indexes of a process at most (about 0.6 KB"
        " each); beyond it the least recently used road shows are dropped",
    )
    index_idle_seconds: float = Field(
        default=1800.0,
        gt=0,
        description="A road show's in-memory index unused this long is dropped",
    )

    schedule_fair_minimum: int = Field(
        default=4,
        ge=0,
        le=48,
        description="Meetings every enterprise should get where possible (a job may override)",
    )
    schedule_enterprise_max_meetings: int | None = Field(
        default=None,
        ge=1,
        le=200,
        description="Most meetings per enterprise; unset means one per slot",
    )
    scheduler_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often the worker looks for queued jobs"
    )
    scheduler_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A running job whose worker sent no heartbeat this long is taken over",
    )
    interest_expiry_check_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often the worker records expired interest requests (each job checks too)",
    )
    follow_up_delay_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days after a meeting that took place until its follow-up falls due"
        " (both sides are asked where the deal stands: follow-up.due)",
    )
    follow_up_check_seconds: float = Field(
        default=60.0, gt=0, description="How often the follow-up loop opens follow-ups due"
    )
    scheduler_max_attempts: int = Field(
        default=3, ge=1, description="Tries of one job before it is marked failed"
    )

    @model_validator(mode="after")
    def _weights_usable(self) -> MatchingSettings:
        self.weights()  # raises ValueError naming the problem
        return self

    def weights(self) -> Weights:
        return Weights(
            sector_fit=self.weight_sector_fit,
            stage_fit=self.weight_stage_fit,
            ticket_fit=self.weight_ticket_fit,
            partnership_fit=self.weight_partnership_fit,
            text_similarity=self.weight_text_similarity,
        )
