"""Wiring, built once from settings: the registration app, its background loops
and the operator's partner commands. Nothing is created at import time."""

from __future__ import annotations

import argparse
import dataclasses
import json
import uuid
from pathlib import Path

from aiohttp import web

from services.registration.http.routes import KEYRING, api
from services.registration.model import IssuedKey
from services.registration.partners import service as partners
from services.registration.privacy.keys import Keyring
from services.registration.settings import RegistrationSettings
from shared.cli import Command
from shared.db import SHARED_MIGRATIONS, connect
from shared.envelope import Context
from shared.http.app import create_service_app
from shared.outbox import OutboxRelay, relay_from_settings
from shared.runtime import Background
from shared.unit_of_work import UnitOfWork

NAME = "registration"
MIGRATIONS = [("shared", SHARED_MIGRATIONS), (NAME, Path(__file__).parent / "migrations")]


def create_app(settings: RegistrationSettings) -> web.Application:
    app = create_service_app(
        api,
        settings,
        producer=NAME,
        topic=settings.topics.registration,
        admin_token=settings.admin_token,
    )
    app[KEYRING] = Keyring(kek=settings.kek, topic=settings.topics.keys)
    return app


def create_relay(settings: RegistrationSettings) -> OutboxRelay:
    return relay_from_settings(settings)


def background(settings: RegistrationSettings) -> list[Background]:
    relay = create_relay(settings)
    return [Background("outbox_relay", relay.run, relay.healthy)]


def _partner_args(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="a new partner and its first API key (JSON)")
    create.add_argument("name", help="the partner organisation's name")
    issue = actions.add_parser("issue-key", help="another API key for a partner (JSON)")
    issue.add_argument("partner_id", type=uuid.UUID, help="the partner's id (a UUID)")
    revoke = actions.add_parser("revoke-key", help="revoke an API key")
    revoke.add_argument("partner_id", type=uuid.UUID, help="the partner's id (a UUID)")
    revoke.add_argument("key_id", type=uuid.UUID, help="the key's id (a UUID)")


async def _partner(settings: RegistrationSettings, args: argparse.Namespace) -> None:
    """Operator commands: the printed API key is shown once, never stored in clear."""
    ctx = Context(correlation_id=f"cli-{uuid.uuid4()}")
    conn = await connect(settings.database_url.get_secret_value())
    try:
        async with UnitOfWork.joining(
            conn, ctx, producer=NAME, topic=settings.topics.registration
        ) as uow:
            issued: IssuedKey | None = None
            if args.action == "create":
                issued = await partners.create_partner(uow, args.name)
            elif args.action == "issue-key":
                issued = await partners.issue_key(uow, args.partner_id)
            else:
                await partners.revoke(uow, args.partner_id, args.key_id)
    finally:
        await conn.close()
    if issued is None:
        print("revoked")
    else:
        print(json.dumps(dataclasses.asdict(issued), default=str, indent=2))


PARTNER_COMMAND = Command[RegistrationSettings](
    help="operator commands: create a partner, issue or revoke its API keys",
    configure=_partner_args,
    run=_partner,
)
