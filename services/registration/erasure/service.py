"""Personal-data erasure: a partner erases every record of its own that names a
person (by e-mail); the other services erase their copies on `person.erased`."""

from __future__ import annotations

import uuid

from services.registration.erasure import repository as repo
from services.registration.model import Erasure
from shared.contracts import registration as c
from shared.unit_of_work import UnitOfWork


async def erase_person(uow: UnitOfWork, email: str) -> Erasure:
    erasure_id = uuid.uuid4()
    enterprises = await repo.erase_presidents(uow.conn, uow.partner_id, email)
    participants = await repo.erase_contacts(uow.conn, uow.partner_id, email)
    subjects = [
        c.ErasedSubject(kind="enterprise.president", id=e.enterprise_id) for e in enterprises
    ] + [c.ErasedSubject(kind="participant.contact", id=p.participant_id) for p in participants]
    await repo.insert_erasure(uow.conn, erasure_id, uow.partner_id, len(subjects))
    for s in subjects:
        uow.emit("person.erased", s.id, c.PersonErased(erasure_id=erasure_id, subjects=[s]))
    return Erasure(erasure_id=erasure_id, subjects=len(subjects))
