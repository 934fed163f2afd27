"""Postgres pool and the migrations runner.

Migrations are plain SQL files `NNNN_name.sql`, applied in order, once, recorded in
`schema_migrations`. Two processes starting together serialise on an advisory
lock, so each file runs exactly once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from shared.logging import get_logger

log = get_logger(__name__)

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 72_410_001  # arbitrary, fixed: one lock id for every service's runner


class JsonText(str):
    """A value already serialised as JSON (by pydantic, say): written as it is."""


def _encode_json(value: Any) -> str:
    return value if isinstance(value, JsonText) else json.dumps(value)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typ in ("json", "jsonb"):
        await conn.set_type_codec(
            typ, encoder=_encode_json, decoder=json.loads, schema="pg_catalog"
        )


async def _reset(conn: asyncpg.Connection) -> None:
    # Pooled connections keep no session state (LISTEN and session advisory locks live
    # on connections of their own), so asyncpg's default reset, a round trip on every
    # release, buys nothing; only a transaction left open must not leak.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(dsn: str, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        init=_init_connection,
        reset=_reset,
        command_timeout=60,
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


@dataclass(frozen=True)
class Migration:
    namespace: str
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(namespace: str, folder: Path) -> list[Migration]:
    found = []
    for path in sorted(folder.glob("*.sql")):
        number, _, name = path.stem.partition("_")
        found.append(Migration(namespace, int(number), name, path.read_text()))
    return found


class MigrationChanged(RuntimeError):
    """An applied migration's file was edited afterwards; write a new one instead."""


async def migrate(dsn: str, sources: Sequence[tuple[str, Path]]) -> list[str]:
    """Apply pending migrations from (namespace, folder) pairs; returns what ran."""
    migrations = [m for ns, folder in sources for m in load_migrations(ns, folder)]
    conn = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       namespace text NOT NULL,
                       version integer NOT NULL,
                       name text NOT NULL,
                       checksum text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now(),
                       PRIMARY KEY (namespace, version))"""
            )
            rows = await conn.fetch("SELECT namespace, version, checksum FROM schema_migrations")
            done: dict[tuple[str, int], str] = {
                (r["namespace"], r["version"]): r["checksum"] for r in rows
            }
            for m in migrations:
                previous = done.get((m.namespace, m.version))
                if previous is not None:
                    if previous != m.checksum:
                        raise MigrationChanged(f"{m.namespace}/{m.version:04d}_{m.name}")
                    continue
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (namespace, version, name, checksum)"
                    " VALUES ($1, $2, $3, $4)",
                    m.namespace,
                    m.version,
                    m.name,
                    m.checksum,
                )
                applied_now.append(f"{m.namespace}/{m.version:04d}_{m.name}")
    finally:
        await conn.close()
    if applied_now:
        log.info("db.migrated", applied=applied_now)
    return applied_now


def record(row: Any) -> dict[str, Any]:
    return dict(row) if row is not None else {}
