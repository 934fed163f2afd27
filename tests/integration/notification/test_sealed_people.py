"""People's names and addresses arrive sealed with their own key: e-mail opens them
with its copy of the key, waits (retrying) while the key is on its way, and keeps
nothing personal once the key is destroyed."""

from __future__ import annotations

import uuid

import pytest

from shared import personal_data as pd
from shared.contracts.registration import Participant, PersonKeyDestroyed, PersonKeyIssued
from shared.envelope import Context, Envelope, new_event
from shared.failures import NotYet, is_transient
from tests.conftest import PERSONAL_DATA_KEY
from tests.integration.notification.conftest import Env

KEK = pd.parse_key(PERSONAL_DATA_KEY)


def _keys_event(
    type_: str, subject: uuid.UUID, data: PersonKeyIssued | PersonKeyDestroyed
) -> Envelope:
    return new_event("registration", Context("keys-test"), type_, subject, data)


async def _recipient(env: Env, party_id: uuid.UUID) -> tuple[str | None, str | None]:
    row = await env.pool.fetchrow(
        "SELECT name, email FROM recipients WHERE party_id = $1", party_id
    )
    assert row is not None
    return row["name"], row["email"]


async def test_sealed_contact_waits_for_its_key_and_is_gone_with_it(email_env: Env) -> None:
    env = email_env
    partner = await env.partner()
    clear = env.participant_event(partner)
    pid = uuid.UUID(clear.key)
    key = pd.new_key()
    data = Participant.model_validate(clear.data)
    sealed = clear.model_copy(
        update={
            "data": data.model_copy(
                update={"contact": pd.seal_person(key, pid, data.contact)}
            ).model_dump(mode="json")
        }
    )
    contact = env.people[pid]

    # The key has not arrived: the consumer must retry, not drop or dead-letter.
    with pytest.raises(NotYet) as waiting:
        await env.consume(sealed)
    assert is_transient(waiting.value)

    issued = PersonKeyIssued(
        subject_id=pid, kind="participant.contact", wrapped_key=pd.wrap_key(KEK, pid, key)
    )
    await env.consume(_keys_event("person.key_issued", pid, issued))
    await env.consume(sealed)
    assert await _recipient(env, pid) == (contact["name"], contact["email"])

    # Erased: the key goes, and a later copy of the person (say, replayed) opens to nothing.
    await env.consume(_keys_event("person.key_destroyed", pid, PersonKeyDestroyed(subject_id=pid)))
    assert await env.pool.fetchval("SELECT key FROM person_keys WHERE subject_id = $1", pid) is None
    later = sealed.model_copy(update={"id": uuid.uuid4(), "data": {**sealed.data, "version": 2}})
    await env.consume(later)
    assert await _recipient(env, pid) == (None, None)
    # A late copy of the key does not bring it back.
    await env.consume(_keys_event("person.key_issued", pid, issued))
    assert await env.pool.fetchval("SELECT key FROM person_keys WHERE subject_id = $1", pid) is None
