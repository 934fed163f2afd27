"""Notification's copy of people's keys: registration seals each person's name,
e-mail and phone in its events with that person's key and publishes the key,
wrapped, on the keys topic. E-mail needs the clear address, so the people read
model opens the sealed fields with the copy here; erasure destroys the copy."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from shared import personal_data as pd
from shared.contracts.registration import Person, PersonKeyIssued
from shared.failures import NotYet


@dataclass(frozen=True)
class KeyCopies:
    # The suite's key-encryption key, to unwrap what the keys topic carries (None when
    # e-mail is off: then no key is kept).
    kek: bytes | None

    async def issued(self, conn: asyncpg.Connection, data: PersonKeyIssued) -> None:
        if self.kek is None:
            return
        key = pd.unwrap_key(self.kek, data.subject_id, data.wrapped_key)
        await conn.execute(
            "INSERT INTO person_keys (subject_id, key) VALUES ($1, $2)"
            " ON CONFLICT (subject_id) DO UPDATE SET key = EXCLUDED.key"
            " WHERE person_keys.destroyed_at IS NULL",
            data.subject_id,
            key,
        )

    async def destroyed(self, conn: asyncpg.Connection, subject_ids: list[uuid.UUID]) -> None:
        await conn.execute(
            "INSERT INTO person_keys (subject_id, key, destroyed_at)"
            " SELECT s, NULL, now() FROM unnest($1::uuid[]) AS s"
            " ON CONFLICT (subject_id) DO UPDATE SET key = NULL, destroyed_at = now()",
            subject_ids,
        )

    async def opened(self, conn: asyncpg.Connection, subject: uuid.UUID, person: Person) -> Person:
        """The person in clear. Raises NotYet while the key is still on its way (the
        keys topic is consumed apart); with the key destroyed, nothing personal."""
        sealed = [v for v in (person.name, person.email, person.phone) if pd.is_sealed(v)]
        if not sealed:
            return person  # nothing sealed: erased already, or an event from before sealing
        row = await conn.fetchrow("SELECT key FROM person_keys WHERE subject_id = $1", subject)
        if row is None:
            raise NotYet(f"the key of {subject} has not arrived")
        return pd.open_person(row["key"], subject, person)
