"""Unsubscribe tokens: a recipient id signed with the service's key, so the link
in a message works without a login and cannot be forged for someone else.

`u1.<recipient id, base64url>.<HMAC-SHA256 truncated to 128 bits, base64url>`.
The recipient id names a role (the president of an enterprise, the contact of a
participant), not a person, so the token carries nothing personal. Tokens do
not expire: an unsubscribe link must keep working as long as the message is in
someone's mailbox.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid

_VERSION = "u1"
_PURPOSE = b"roadshow-unsubscribe:"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, recipient: uuid.UUID) -> bytes:
    return hmac.new(secret.encode(), _PURPOSE + recipient.bytes, hashlib.sha256).digest()[:16]


def sign(secret: str, recipient: uuid.UUID) -> str:
    return f"{_VERSION}.{_b64(recipient.bytes)}.{_b64(_mac(secret, recipient))}"


def verify(secret: str, token: str) -> uuid.UUID | None:
    """The recipient a token was made for, or None for anything else."""
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != _VERSION or not secret:
        return None
    try:
        recipient = uuid.UUID(bytes=_unb64(parts[1]))
        mac = _unb64(parts[2])
    except (binascii.Error, ValueError):
        return None
    return recipient if hmac.compare_digest(mac, _mac(secret, recipient)) else None
