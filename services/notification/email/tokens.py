"""Signed tokens for the links in our e-mails: a small payload signed with the
service's key, so a link works without a login and cannot be forged or bent
to another use.

One module for every kind of link. A `Purpose` names what a token is for (an
unsubscribe, an answer on a match, a meeting's feedback, ...); its name is
bound into the MAC, so a token made for one purpose never opens as another,
even with the same payload. Two layers:

- `Signer.seal` / `unseal`: raw bytes, `<tag>.<payload, base64url>.<HMAC-SHA256
  truncated to 128 bits, base64url>`; the MAC covers `roadshow-<purpose>:` and
  the payload. Unsubscribe links use it with the recipient id's 16 bytes and
  tag `u1`, exactly the format they always had, so links already in mailboxes
  keep working.
- `Signer.sign` / `open`: a pydantic model as compact JSON, with an optional
  expiry (`exp`, Unix seconds, signed with the rest). `open` validates the
  payload against the model the caller expects.

Payloads name roles and ids (a recipient id, a match id), never a person:
links are copied, forwarded and logged by mail systems. Tokens are not
encrypted: anyone holding one can read its payload.

Usage (a new kind of link):

    FEEDBACK = Purpose("meeting-feedback")

    class FeedbackLink(BaseModel):
        meeting_id: uuid.UUID
        rating: int

    token = signer.sign(FEEDBACK, FeedbackLink(...), expires_at=now + ttl)
    link = signer.open(FEEDBACK, token, FeedbackLink, now=now)  # raises BadToken
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

# Why a token was refused (never which part of it matched).
Refusal = Literal["malformed", "forged", "expired"]

# A token is one query parameter: bounded, so a huge one is refused unread.
MAX_TOKEN_LENGTH = 512


class BadToken(ValueError):
    """A token that does not open: not one of ours, not for this purpose, or
    past its expiry. `reason` tells an expired link (worth saying so to the
    person) from anything else."""

    def __init__(self, reason: Refusal) -> None:
        super().__init__(f"token {reason}")
        self.reason: Refusal = reason


@dataclass(frozen=True)
class Purpose:
    """What a token is for. `name` goes into the MAC; `tag` opens the token's
    text (short, and a version: a new payload format takes a new tag)."""

    name: str
    tag: str = "t1"

    def __post_init__(self) -> None:
        if not self.name or "." in self.tag or not self.tag:
            raise ValueError("a purpose needs a name and a tag without dots")


UNSUBSCRIBE = Purpose("unsubscribe", tag="u1")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and opens tokens with one secret (the service's token key).
    Changing the secret voids every token made with the old one."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def _mac(self, purpose: Purpose, payload: bytes) -> bytes:
        message = f"roadshow-{purpose.name}:".encode() + payload
        return hmac.new(self._key, message, hashlib.sha256).digest()[:16]

    # --- raw bytes ---------------------------------------------------------------------

    def seal(self, purpose: Purpose, payload: bytes) -> str:
        return f"{purpose.tag}.{_b64(payload)}.{_b64(self._mac(purpose, payload))}"

    def unseal(self, purpose: Purpose, token: str) -> bytes:
        """The payload a token was sealed with for `purpose`; raises BadToken."""
        if not self._key or len(token) > MAX_TOKEN_LENGTH:
            raise BadToken("malformed")  # no key configured: no token is valid
        parts = token.strip().split(".")
        if len(parts) != 3 or parts[0] != purpose.tag:
            raise BadToken("malformed")
        try:
            payload, mac = _unb64(parts[1]), _unb64(parts[2])
        except (binascii.Error, ValueError):
            raise BadToken("malformed") from None
        if not hmac.compare_digest(mac, self._mac(purpose, payload)):
            raise BadToken("forged")
        return payload

    # --- typed payloads with an expiry ---------------------------------------------------

    def sign(self, purpose: Purpose, payload: BaseModel, *, expires_at: datetime | None) -> str:
        claims = payload.model_dump(mode="json")
        if "exp" in claims:
            raise ValueError("'exp' is the token's own field")
        if expires_at is not None:
            claims["exp"] = int(expires_at.timestamp())
        raw = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        return self.seal(purpose, raw)

    def open(self, purpose: Purpose, token: str, model: type[M], *, now: datetime) -> M:
        """The payload of a valid, unexpired token for `purpose`; raises BadToken
        (a token signed by us is still refused once its expiry has passed)."""
        raw = self.unseal(purpose, token)
        try:
            claims = json.loads(raw)
            if not isinstance(claims, dict):
                raise BadToken("malformed")
            exp = claims.pop("exp", None)
            if exp is not None and (not isinstance(exp, int) or now.timestamp() >= exp):
                raise BadToken("expired")
            return model.model_validate(claims)
        except (ValueError, ValidationError) as exc:
            if isinstance(exc, BadToken):
                raise
            raise BadToken("malformed") from None

    # --- unsubscribe links ---------------------------------------------------------------

    def unsubscribe_token(self, recipient: uuid.UUID) -> str:
        """An unsubscribe link's token. It does not expire: the link must keep
        working as long as the message is in someone's mailbox."""
        return self.seal(UNSUBSCRIBE, recipient.bytes)

    def unsubscribe_recipient(self, token: str) -> uuid.UUID | None:
        """The recipient an unsubscribe token was made for, or None."""
        try:
            return uuid.UUID(bytes=self.unseal(UNSUBSCRIBE, token))
        except (BadToken, ValueError):
            return None
