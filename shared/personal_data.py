"""Crypto-shredding of personal data (PIPL, GDPR).

A person's name, e-mail and phone never cross a topic in clear: in events (and so
in every outbox row and every replay) they are sealed with a key of that person's
own (AES-256-GCM, the subject's id as associated data, so a sealed value cannot be
moved onto another person). Registration makes the key when the person is first
registered and publishes it, wrapped with the suite's key-encryption key, on the
compacted keys topic; whoever must read the data (notification, to send e-mail)
keeps a copy. Erasure destroys the key everywhere: every sealed copy, on any topic,
in any outbox or database, becomes unreadable at once.

A sealed value is a string `pd1:<base64url(nonce || ciphertext)>`.
"""

from __future__ import annotations

import base64
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.contracts.registration import Person

PREFIX = "pd1:"
_NONCE = 12


class Unreadable(Exception):
    """The value is not sealed with this key (or was tampered with)."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def parse_key(text: str) -> bytes:
    """A key-encryption key from its configured form (base64url of 32 bytes)."""
    key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if len(key) != 32:
        raise ValueError("a key is 32 bytes, base64url-encoded")
    return key


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def is_sealed(value: str | None) -> bool:
    return value is not None and value.startswith(PREFIX)


def seal(key: bytes, subject: uuid.UUID, value: str | None) -> str | None:
    if value is None:
        return None
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), subject.bytes)
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_sealed(key: bytes, subject: uuid.UUID, value: str | None) -> str | None:
    """The clear value; None stays None. Raises Unreadable."""
    if value is None:
        return None
    if not is_sealed(value):
        raise Unreadable("not a sealed value")
    raw = value[len(PREFIX) :]
    try:
        blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        return AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], subject.bytes).decode()
    except (InvalidTag, ValueError) as exc:
        raise Unreadable("not sealed with this key") from exc


def wrap_key(kek: bytes, subject: uuid.UUID, key: bytes) -> str:
    """A person's key sealed with the key-encryption key, for the keys topic."""
    sealed = seal(kek, subject, encode_key(key))
    assert sealed is not None
    return sealed


def unwrap_key(kek: bytes, subject: uuid.UUID, wrapped: str) -> bytes:
    clear = open_sealed(kek, subject, wrapped)
    assert clear is not None
    return parse_key(clear)


def seal_person(key: bytes, subject: uuid.UUID, person: Person) -> Person:
    """The person as events carry it: name, e-mail and phone sealed (a title is a role,
    not a person, and stays readable)."""
    return person.model_copy(
        update={
            "name": seal(key, subject, person.name),
            "email": seal(key, subject, person.email),
            "phone": seal(key, subject, person.phone),
        }
    )


def open_person(key: bytes | None, subject: uuid.UUID, person: Person) -> Person:
    """The person in clear; with no key (erased), a person with nothing personal left.
    A value that is not sealed is taken as it is: events written before sealing."""
    if key is None:
        return person.model_copy(update={"name": None, "email": None, "phone": None})
    return person.model_copy(
        update={
            f: open_sealed(key, subject, v) if is_sealed(v) else v
            for f, v in (("name", person.name), ("email", person.email), ("phone", person.phone))
        }
    )
