"""pytest plugin (loaded from tests/conftest.py): one broker and one PostgreSQL
server per session, a fresh database and fresh topics per test.

PostgreSQL: ROADSHOW_TEST_DATABASE_URL, else the server at 127.0.0.1:5432 when one
answers, else an embedded pgserver. The broker is always an embedded tansu started
here and stopped by pid at the end of the session.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from shared.db import migrate
from shared.embedded import (
    EmbeddedBroker,
    EmbeddedPostgres,
    create_database,
    database_url,
    drop_database,
    port_open,
)
from shared.kafka import ensure_topics, wait_for_broker
from shared.logging import configure_logging
from shared.topics import Topics

# Each test session logs into its own folder (test-logs/run-<pid>), so two runs
# side by side never delete or mix each other's logs; a run's last test scans it.
LOG_ROOT = Path(os.environ.get("ROADSHOW_TEST_LOG_DIR", "test-logs")).resolve()
LOG_DIR = LOG_ROOT / f"run-{os.getpid()}"
TEST_LOG = LOG_DIR / "tests.jsonl"


def pytest_configure(config: pytest.Config) -> None:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    for old in LOG_ROOT.glob("run-*"):
        if old != LOG_DIR and not _alive(int(old.name.removeprefix("run-") or 0)):
            shutil.rmtree(old, ignore_errors=True)
    configure_logging("tests", "info", str(TEST_LOG), stream=open(os.devnull, "w"))  # noqa: SIM115 - for the whole session


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid > 0


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    explicit = os.environ.get("ROADSHOW_TEST_DATABASE_URL")
    if explicit:
        yield explicit
    elif port_open("127.0.0.1", 5432):
        yield "postgresql://postgres@127.0.0.1:5432/postgres"
    else:
        server = EmbeddedPostgres(tmp_path_factory.mktemp("pg")).start()
        try:
            yield server.url
        finally:
            server.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    b = EmbeddedBroker(log_path=LOG_DIR / "broker.log").start()
    try:
        asyncio.run(wait_for_broker(b.bootstrap_servers))
        yield b
    finally:
        b.stop()


@pytest_asyncio.fixture
async def topics(broker: EmbeddedBroker) -> Topics:
    """Fresh topics for this test (tansu auto-creates with another layout)."""
    t = Topics(prefix=f"t{uuid.uuid4().hex[:12]}.")
    await ensure_topics(broker.bootstrap_servers, t.all())
    return t


class DatabaseFactory:
    """Fresh databases from per-session templates that already carry the migrations."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self._templates: dict[str, str] = {}
        self._lock = asyncio.Lock()
        self.created: list[str] = []

    async def template(self, migrations: list[tuple[str, Path]]) -> str:
        digest = hashlib.sha256()
        for ns, folder in migrations:
            for f in sorted(folder.glob("*.sql")):
                digest.update(ns.encode() + f.read_bytes())
        key = digest.hexdigest()[:16]
        async with self._lock:
            if key not in self._templates:
                name = f"roadshow_tmpl_{key}_{os.getpid()}"
                await drop_database(self.server_url, name)
                await create_database(self.server_url, name)
                await migrate(database_url(self.server_url, name), migrations)
                self._templates[key] = name
                self.created.append(name)
        return self._templates[key]

    async def fresh(self, migrations: list[tuple[str, Path]]) -> str:
        """A new database with these migrations applied; returns its URL."""
        template = await self.template(migrations)
        name = f"roadshow_test_{uuid.uuid4().hex[:16]}"
        await create_database(self.server_url, name, template=template)
        self.created.append(name)
        return database_url(self.server_url, name)

    async def drop_all(self) -> None:
        """Drop every database of the session, many at once: each DROP DATABASE waits
        for a checkpoint, and concurrent drops share one instead of queueing for
        one each (seconds apiece on a busy server)."""
        gate = asyncio.Semaphore(40)

        async def drop(name: str) -> None:
            async with gate:
                await drop_database(self.server_url, name)

        templates = set(self._templates.values())
        await asyncio.gather(*(drop(n) for n in self.created if n not in templates))
        await asyncio.gather(*(drop(n) for n in templates))


@pytest_asyncio.fixture(scope="session")
async def databases(pg_server_url: str) -> AsyncIterator[DatabaseFactory]:
    factory = DatabaseFactory(pg_server_url)
    yield factory
    await factory.drop_all()


async def count_rows(dsn: str, table: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        value: int = await conn.fetchval(f"SELECT count(*) FROM {table}")
        return value
    finally:
        await conn.close()
