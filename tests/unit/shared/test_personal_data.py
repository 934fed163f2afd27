"""Sealed personal data: readable with the person's key only, bound to that person."""

from __future__ import annotations

import uuid

import pytest

from shared import personal_data as pd
from shared.contracts.registration import Person


def test_a_sealed_person_opens_with_its_key_and_only_for_its_subject() -> None:
    key, subject = pd.new_key(), uuid.uuid4()
    person = Person(
        name="Li Wei", title="President", email="li.wei@example.cn", phone="+86 21 5555 0101"
    )
    sealed = pd.seal_person(key, subject, person)
    assert sealed.title == "President"
    for field in ("name", "email", "phone"):
        value = getattr(sealed, field)
        assert pd.is_sealed(value)
        assert getattr(person, field) not in value
    assert pd.open_person(key, subject, sealed) == person
    with pytest.raises(pd.Unreadable):
        pd.open_person(key, uuid.uuid4(), sealed)  # moved onto another person
    with pytest.raises(pd.Unreadable):
        pd.open_person(pd.new_key(), subject, sealed)  # another key


def test_without_the_key_nothing_personal_is_left() -> None:
    subject = uuid.uuid4()
    sealed = pd.seal_person(pd.new_key(), subject, Person(name="A", email="a@b.cn"))
    erased = pd.open_person(None, subject, sealed)
    assert (erased.name, erased.email, erased.phone) == (None, None, None)


def test_keys_travel_wrapped_with_the_key_encryption_key() -> None:
    kek, key, subject = pd.new_key(), pd.new_key(), uuid.uuid4()
    wrapped = pd.wrap_key(kek, subject, key)
    assert pd.encode_key(key) not in wrapped
    assert pd.unwrap_key(kek, subject, wrapped) == key
    with pytest.raises(pd.Unreadable):
        pd.unwrap_key(pd.new_key(), subject, wrapped)
    assert pd.parse_key(pd.encode_key(kek)) == kek
    with pytest.raises(ValueError, match="32 bytes"):
        pd.parse_key("c2hvcnQ")
