"""Sealing the personal fields of the events registration emits, with each person's
own key (made on first need, published wrapped on the keys topic)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from services.registration.privacy import repository as repo
from shared import personal_data as pd
from shared.contracts import registration as c
from shared.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Keyring:
    kek: bytes  # the suite's key-encryption key: wraps each person's key on the keys topic
    topic: str  # the keys topic

    async def sealed_enterprise(self, uow: UnitOfWork, e: c.Enterprise) -> c.Enterprise:
        """The enterprise as events carry it: its president's personal fields sealed."""
        if not _has_personal_data(e.president):
            return e
        key = await self._key(uow, e.enterprise_id, "enterprise.president")
        return e.model_copy(update={"president": pd.seal_person(key, e.enterprise_id, e.president)})

    async def sealed_participant(self, uow: UnitOfWork, p: c.Participant) -> c.Participant:
        if not _has_personal_data(p.contact):
            return p
        key = await self._key(uow, p.participant_id, "participant.contact")
        return p.model_copy(update={"contact": pd.seal_person(key, p.participant_id, p.contact)})

    async def destroy(self, uow: UnitOfWork, subject_ids: list[uuid.UUID]) -> None:
        """Every sealed copy of these people's data, wherever it is, becomes unreadable."""
        await repo.destroy_person_keys(uow.conn, subject_ids)
        for subject_id in subject_ids:
            uow.emit(
                "person.key_destroyed",
                subject_id,
                c.PersonKeyDestroyed(subject_id=subject_id),
                topic=self.topic,
            )

    async def _key(self, uow: UnitOfWork, subject_id: uuid.UUID, kind: c.ErasedKind) -> bytes:
        key = await repo.person_key(uow.conn, subject_id)
        if key is not None:
            return key
        key = await repo.store_person_key(uow.conn, subject_id, kind, pd.new_key())
        issued = c.PersonKeyIssued(
            subject_id=subject_id, kind=kind, wrapped_key=pd.wrap_key(self.kek, subject_id, key)
        )
        uow.emit("person.key_issued", subject_id, issued, topic=self.topic)
        return key


def _has_personal_data(person: c.Person) -> bool:
    return any(v is not None for v in (person.name, person.email, person.phone))
