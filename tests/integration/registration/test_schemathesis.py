"""schemathesis over registration's served OpenAPI document, against the service
on a real database: no 5xx, every answer as the document says (tests/helpers/api_fuzz.py)."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN, Registration
from tests.helpers.api_fuzz import fuzz_service


@pytest.mark.no_relay
async def test_schemathesis_finds_no_server_error_nor_schema_violation(
    registration: Registration,
) -> None:
    c = registration.client
    spec = await (await c.get("/openapi.json")).json()
    partner = await registration.new_partner()
    key = partner["Authorization"].removeprefix("Bearer ")
    done = await fuzz_service(
        spec, str(c.make_url("")).rstrip("/"), {"partnerKey": key, "adminToken": ADMIN}
    )
    assert done.operations >= 25 and done.requests > 100
    assert not done.failures, "\n\n".join(done.failures)
