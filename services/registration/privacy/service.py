"""Personal-data erasure: a partner erases every record of its own that names a
person (by e-mail). Registration clears its rows, destroys the people's keys (so
every sealed copy on every topic and in every outbox is unreadable), scrubs the
stored answers of idempotent requests, and tells the others (`person.erased`)."""

from __future__ import annotations

import uuid
from typing import Any

from services.registration.model import Erasure
from services.registration.privacy import repository as repo
from services.registration.privacy.keys import Keyring
from shared.contracts import registration as c
from shared.unit_of_work import UnitOfWork

# Where a stored answer names a person: the object under this key, next to the subject's id.
_PERSON_OF = {"enterprise_id": "president", "participant_id": "contact"}
_PERSONAL = ("name", "email", "phone", "title")


async def erase_person(uow: UnitOfWork, keys: Keyring, email: str) -> Erasure:
    erasure_id = uuid.uuid4()
    enterprises = await repo.erase_presidents(uow.conn, uow.partner_id, email)
    participants = await repo.erase_contacts(uow.conn, uow.partner_id, email)
    subjects = [
        c.ErasedSubject(kind="enterprise.president", id=e.enterprise_id) for e in enterprises
    ] + [c.ErasedSubject(kind="participant.contact", id=p.participant_id) for p in participants]
    await repo.insert_erasure(uow.conn, erasure_id, uow.partner_id, len(subjects))
    if subjects:
        ids = [s.id for s in subjects]
        await keys.destroy(uow, ids)
        await _scrub_stored_replies(uow, set(ids))
    for s in subjects:
        uow.emit("person.erased", s.id, c.PersonErased(erasure_id=erasure_id, subjects=[s]))
    return Erasure(erasure_id=erasure_id, subjects=len(subjects))


async def _scrub_stored_replies(uow: UnitOfWork, subject_ids: set[uuid.UUID]) -> None:
    named = await repo.idempotent_replies_naming(uow.conn, uow.partner_id, list(subject_ids))
    for key, answer in named:
        scrubbed = scrub_people(answer, {str(s) for s in subject_ids})
        await repo.replace_idempotent_reply(uow.conn, uow.partner_id, key, scrubbed)


def scrub_people(document: Any, subject_ids: set[str]) -> Any:
    """The document with the personal fields of these subjects' people set to null."""
    if isinstance(document, list):
        return [scrub_people(item, subject_ids) for item in document]
    if not isinstance(document, dict):
        return document
    out = {k: scrub_people(v, subject_ids) for k, v in document.items()}
    for id_field, person_field in _PERSON_OF.items():
        person = out.get(person_field)
        if str(out.get(id_field)) in subject_ids and isinstance(person, dict):
            out[person_field] = {**person, **dict.fromkeys(_PERSONAL)}
    return out
