"""Sending one message over SMTP (aiosmtplib) and telling how the attempt ended,
in the same terms as a webhook attempt: delivered, failed (try again later),
timeout, or rejected (a permanent 5xx: dead)."""

from __future__ import annotations

import asyncio
import email.policy
import socket
import time
from email.message import EmailMessage

import aiosmtplib

from services.notification.email.rules import outcome_of_smtp
from services.notification.outbound.policy import Attempt
from services.notification.settings import NotificationSettings
from shared.logging import scrub_text


class Mailer:
    def __init__(self, settings: NotificationSettings) -> None:
        self._s = settings
        # Resolved once here: aiosmtplib would otherwise call the blocking
        # getfqdn() on the event loop for every connection.
        self._helo = settings.smtp_helo_name or (
            socket.getfqdn() if settings.email_enabled else "localhost"
        )

    async def send(self, message: EmailMessage, sender: str, recipient: str) -> Attempt:
        s = self._s
        started = time.perf_counter()

        def elapsed() -> int:
            return round((time.perf_counter() - started) * 1000)

        try:
            # One connection per message keeps a failure to its own message; the
            # worker bounds how many run at once (smtp_concurrency). aiosmtplib's
            # timeout is per command: a relay answering each just in time could
            # outlast the lease and another worker would send the mail again, so
            # the whole conversation has the deadline (shorter than the lease).
            async with asyncio.timeout(s.smtp_timeout_seconds):
                await self._send(message, sender, recipient)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            return _answer(refused.code, refused.message, elapsed())
        except aiosmtplib.SMTPResponseException as exc:
            return _answer(exc.code, exc.message, elapsed())
        except (aiosmtplib.SMTPTimeoutError, TimeoutError):
            return Attempt(
                "timeout",
                latency_ms=elapsed(),
                error=f"no answer within {s.smtp_timeout_seconds:g}s",
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            return Attempt(
                "failed", latency_ms=elapsed(), error=_describe(type(exc).__name__, str(exc))
            )
        return Attempt("delivered", status_code=250, latency_ms=elapsed())

    async def _send(self, message: EmailMessage, sender: str, recipient: str) -> None:
        s = self._s
        utf8 = not (sender + recipient).isascii()
        await aiosmtplib.send(
            wire_bytes(message, utf8=utf8),
            sender=sender,
            recipients=[recipient],
            mail_options=["SMTPUTF8"] if utf8 else [],
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_tls == "tls",
            # Explicit, never "if offered": a starttls relay that stops
            # offering it must not get our mail (and credentials) in clear.
            start_tls=s.smtp_tls == "starttls",
            timeout=s.smtp_timeout_seconds,
            local_hostname=self._helo,
        )


def wire_bytes(message: EmailMessage, *, utf8: bool = False) -> bytes:
    """The message as it goes out. Given an EmailMessage, aiosmtplib would flatten it
    again with email.policy.SMTP, whose 78-character folding RFC 2047-encodes the
    long, space-free List-Unsubscribe URL, so mail programs no longer find it. Here
    the message's own policy (998-character lines) is kept; bodies are made 7-bit
    (quoted-printable or base64) so that no relay needs 8BITMIME."""
    base = email.policy.SMTPUTF8 if utf8 else email.policy.SMTP
    policy = base.clone(max_line_length=message.policy.max_line_length, cte_type="7bit")
    return message.as_bytes(policy=policy)


def _answer(code: int, message: str, ms: int) -> Attempt:
    outcome = outcome_of_smtp(code)
    return Attempt(
        outcome,
        status_code=code,
        latency_ms=ms,
        error=None if outcome == "delivered" else _describe(f"SMTP {code}", message),
    )


def _describe(what: str, detail: str) -> str:
    # Servers quote the recipient's address in their refusals ("550 <a@b>:
    # unknown user"); attempts are stored and listed, so it is masked here.
    return f"{what}: {scrub_text(detail)}"[:500]
