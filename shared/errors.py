"""Domain errors. Services raise these; `shared.http.problems` maps them to HTTP
statuses in one table, so handlers carry no try/except."""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class InvalidInput(DomainError):
    """The request is well-formed but a field's value is not acceptable."""


class NotFound(DomainError):
    """No such thing, or not the caller's (a foreign id answers as missing)."""


class Conflict(DomainError):
    """The request contradicts the current state (a reused idempotency key, a
    withdrawn aggregate changed)."""


class Unauthenticated(DomainError):
    pass


class Forbidden(DomainError):
    pass
