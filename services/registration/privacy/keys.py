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

    async def sealed_enterprises(
        self, uow: UnitOfWork, enterprises: list[c.Enterprise], *, new: bool = False
    ) -> list[c.Enterprise]:
        """The enterprises as events carry them: their presidents' personal fields sealed
        (`new`: registered in this unit, so none has a key yet)."""
        people = [e.enterprise_id for e in enterprises if _has_personal_data(e.president)]
        keys = await self._keys(uow, people, "enterprise.president", new=new)
        return [
            e.model_copy(
                update={
                    "president": pd.seal_person(keys[e.enterprise_id], e.enterprise_id, e.president)
                }
            )
            if e.enterprise_id in keys
            else e
            for e in enterprises
        ]

    async def sealed_enterprise(self, uow: UnitOfWork, e: c.Enterprise) -> c.Enterprise:
        (sealed,) = await self.sealed_enterprises(uow, [e])
        return sealed

    async def sealed_participant(
        self, uow: UnitOfWork, p: c.Participant, *, new: bool = False
    ) -> c.Participant:
        if not _has_personal_data(p.contact):
            return p
        keys = await self._keys(uow, [p.participant_id], "participant.contact", new=new)
        sealed = pd.seal_person(keys[p.participant_id], p.participant_id, p.contact)
        return p.model_copy(update={"contact": sealed})

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

    async def _keys(
        self, uow: UnitOfWork, subject_ids: list[uuid.UUID], kind: c.ErasedKind, *, new: bool
    ) -> dict[uuid.UUID, bytes]:
        """Each subject's key: the live one, or a new one (published, wrapped)."""
        if not subject_ids:
            return {}
        keys = {} if new else await repo.person_keys(uow.conn, subject_ids)
        missing = {s: pd.new_key() for s in subject_ids if s not in keys}
        if missing:
            stored = await repo.store_person_keys(uow.conn, kind, missing)
            for subject_id, key in stored.items():
                wrapped = pd.wrap_key(self.kek, subject_id, key)
                issued = c.PersonKeyIssued(subject_id=subject_id, kind=kind, wrapped_key=wrapped)
                uow.emit("person.key_issued", subject_id, issued, topic=self.topic)
            keys |= stored
            if len(keys) < len(subject_ids):  # another transaction stored some first
                keys |= await repo.person_keys(uow.conn, [s for s in subject_ids if s not in keys])
        return keys


def _has_personal_data(person: c.Person) -> bool:
    return any(v is not None for v in (person.name, person.email, person.phone))
