"""Notification's copy of people's keys: registration seals each person's name,
e-mail and phone in its events with that person's key and publishes the key,
wrapped, on the keys topic. E-mail needs the clear address, so the people read
model opens the sealed fields with the copy here; erasure destroys the copy."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
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

    async def opened(
        self, conn: asyncpg.Connection, people: Sequence[tuple[uuid.UUID, Person]]
    ) -> list[Person]:
        """Each (subject, person) in clear, in one lookup. Raises NotYet while a key
        is still on its way (the keys topic is consumed apart); with a key
        destroyed, nothing personal."""
        # Nothing sealed: erased already, or an event from before sealing.
        sealed = {
            subject
            for subject, person in people
            if any(pd.is_sealed(v) for v in (person.name, person.email, person.phone))
        }
        keys: dict[uuid.UUID, bytes | None] = {}
        if sealed:
            rows = await conn.fetch(
                "SELECT subject_id, key FROM person_keys WHERE subject_id = ANY($1::uuid[])",
                list(sealed),
            )
            keys = {r["subject_id"]: r["key"] for r in rows}
        missing = sealed - keys.keys()
        if missing:
            raise NotYet(f"the key of {min(missing)} has not arrived")
        return [
            pd.open_person(keys[subject], subject, person) if subject in sealed else person
            for subject, person in people
        ]
