"""Moved to shared/testing/suite.py (the fault suite's tests launch the suite too);
re-exported here for the benches that import `_suite`."""

from shared.testing.suite import (
    MARKER,
    ROOT,
    SERVICES,
    ServiceProcess,
    Suite,
    Urls,
    cpu_seconds,
    embedded_postgres_url,
    free_port_run,
    memory_kb,
    port_free,
    prepare_home,
    ready,
    service_processes,
    supports_replicas,
)

__all__ = [
    "MARKER",
    "ROOT",
    "SERVICES",
    "ServiceProcess",
    "Suite",
    "Urls",
    "cpu_seconds",
    "embedded_postgres_url",
    "free_port_run",
    "memory_kb",
    "port_free",
    "prepare_home",
    "ready",
    "service_processes",
    "supports_replicas",
]
