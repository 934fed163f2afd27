"""schemathesis over a service's served OpenAPI document, against the real service
a test fixture started: valid and invalid requests generated from the document,
every answer checked for 5xx and against the document (status, media type,
headers, schema). Bounded: a few examples per operation and mode.

schemathesis is synchronous (requests); it runs in a worker thread while the test's
event loop goes on serving the service."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Fuzzed:
    operations: int = 0
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)


def fuzz(
    spec: dict[str, Any],
    base_url: str,
    credentials: Mapping[str, str],
    max_examples: int = 4,
    known: Mapping[str, str] | None = None,
) -> Fuzzed:
    """`credentials`: security scheme name -> bearer token; `known`: path parameter
    name -> the id of a resource the fixture made, for one more pass of valid
    requests on an operation whose every path id is known (random ids mostly meet 404)."""
    schema = schemathesis.openapi.from_dict(spec)
    out = Fuzzed()
    session = requests.Session()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            out.failures.append(f"an operation schemathesis cannot read: {result.err()}")
            continue
        operation = result.ok()
        out.operations += 1
        raw = operation.definition.raw
        headers = _auth(raw, credentials)
        takes_input = bool(raw.get("parameters") or raw.get("requestBody"))
        names = {p["name"] for p in raw.get("parameters", []) if p["in"] == "path"}
        passes: list[tuple[GenerationMode, dict[str, str] | None]] = [
            (GenerationMode.POSITIVE, None)
        ]
        if takes_input:
            passes.append((GenerationMode.NEGATIVE, None))
        if names and known and names <= set(known):
            passes.append((GenerationMode.POSITIVE, {n: known[n] for n in names}))
        for mode, ids in passes:
            label = f"{operation.label} [{mode.value}{', known ids' if ids else ''}]"
            try:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=ids)
            except Exception as exc:  # an operation schemathesis cannot negate
                out.failures.append(f"{label}: cannot generate: {exc}")
                continue

            started = time.perf_counter()
            try:
                _run(strategy, base_url, session, headers, max_examples, out)
            except Unsatisfiable:
                pass  # e.g. nothing to make invalid in a query of one enum
            except (Exception, ExceptionGroup) as exc:
                out.failures.append(f"{label}: {exc}"[:3000])
            out.seconds[label] = time.perf_counter() - started
    return out


def _run(
    strategy: Any,
    base_url: str,
    session: requests.Session,
    headers: dict[str, str],
    max_examples: int,
    out: Fuzzed,
) -> None:
    @given(case=strategy)
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case[Any]) -> None:
        out.requests += 1
        response = case.call_and_validate(
            base_url=base_url, session=session, headers=headers, checks=CHECKS, timeout=10
        )
        out.statuses[response.status_code] = out.statuses.get(response.status_code, 0) + 1

    check()


async def fuzz_service(
    spec: dict[str, Any],
    base_url: str,
    credentials: Mapping[str, str],
    known: Mapping[str, str] | None = None,
) -> Fuzzed:
    # CI runs a few examples per operation; ROADSHOW_FUZZ_EXAMPLES=200 digs deeper by hand.
    examples = int(os.environ.get("ROADSHOW_FUZZ_EXAMPLES", "4"))
    done = await asyncio.to_thread(fuzz, spec, base_url, credentials, examples, known)
    slowest = sorted(done.seconds.items(), key=lambda kv: -kv[1])[:5]
    # Shown with -s (or on failure): what ran, what it answered, where the time went.
    print(f"{done.requests} requests in {sum(done.seconds.values()):.1f} s;", done.statuses)
    print("slowest:", ", ".join(f"{k} {v:.2f} s" for k, v in slowest))
    return done


def _auth(definition: Mapping[str, Any], credentials: Mapping[str, str]) -> dict[str, str]:
    for requirement in definition.get("security", []):
        for scheme in requirement:
            if scheme in credentials:
                return {"Authorization": f"Bearer {credentials[scheme]}"}
    return {}
