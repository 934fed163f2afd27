"""RFC 9457 problem details, and the one table from domain errors to statuses."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from shared import errors
from shared.logging import scrub_text

PROBLEM_JSON = "application/problem+json"

STATUS_OF: dict[type[errors.DomainError], int] = {
    errors.InvalidInput: 422,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Unauthenticated: 401,
    errors.Forbidden: 403,
}


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    field: str | None = None,
    errors_: list[dict[str, Any]] | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, Any] = {
        "type": f"https://roadshow.dev/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if field:
        body["field"] = field
    if errors_:
        body["errors"] = errors_
    if instance:
        body["instance"] = instance
    return web.json_response(body, status=status, content_type=PROBLEM_JSON, headers=headers)


MAX_ERRORS = 20


def from_domain_error(exc: errors.DomainError, instance: str) -> web.Response:
    status = next((code for cls, code in STATUS_OF.items() if isinstance(exc, cls)), 400)
    title = {401: "Unauthenticated", 403: "Forbidden", 404: "Not Found", 409: "Conflict"}.get(
        status, "Invalid Input"
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return problem(status, title, exc.detail, field=exc.field, instance=instance, headers=headers)


def from_validation_error(exc: ValidationError, instance: str, prefix: str = "") -> web.Response:
    """422 naming every offending field as a dotted path (`enterprises.0.sectors.1`)."""
    items = []
    # A body of ten thousand bad items gets the first of them named, not a huge answer.
    for err in exc.errors(include_url=False, include_input=False)[:MAX_ERRORS]:
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")[:200]
        # Messages may quote the input (e.g. an unknown sector); keep them, scrubbed, short.
        message = scrub_text(err["msg"][:300])
        items.append({"field": loc or "body", "message": message, "type": err["type"]})
    first = items[0]
    return problem(
        422,
        "Validation Failed",
        f"{first['field']}: {first['message']}",
        field=first["field"],
        errors_=items,
        instance=instance,
    )
