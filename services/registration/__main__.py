"""python -m services.registration [serve|api|worker|migrate|replay|partner ...]"""

from __future__ import annotations

import argparse
import uuid

from aiohttp import web

from services.registration.app import MIGRATIONS, create_app, create_relay
from services.registration.service import Registration
from services.registration.settings import RegistrationSettings
from shared.cli import Background, ServiceCli
from shared.db import connect
from shared.envelope import Context
from shared.settings import ServiceSettings


def background(settings: ServiceSettings, _app: web.Application | None) -> list[Background]:
    assert isinstance(settings, RegistrationSettings)
    relay = create_relay(settings)
    return [Background("outbox_relay", relay.run, relay.healthy)]


def _partner_args(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("create").add_argument("name")
    actions.add_parser("issue-key").add_argument("partner_id", type=uuid.UUID)
    revoke = actions.add_parser("revoke-key")
    revoke.add_argument("partner_id", type=uuid.UUID)
    revoke.add_argument("key_id", type=uuid.UUID)


async def _partner(settings: ServiceSettings, args: argparse.Namespace) -> None:
    """Operator commands: the printed API key is shown once, never stored in clear."""
    service = Registration(settings.topics)
    ctx = Context(correlation_id=f"cli-{uuid.uuid4()}")
    conn = await connect(settings.database_url.get_secret_value())
    try:
        if args.action == "create":
            print((await service.create_partner(conn, ctx, args.name)).model_dump_json(indent=2))
        elif args.action == "issue-key":
            print((await service.issue_key(conn, ctx, args.partner_id)).model_dump_json(indent=2))
        else:
            await service.revoke_key(conn, ctx, args.partner_id, args.key_id)
            print("revoked")
    finally:
        await conn.close()


cli = ServiceCli(
    name="registration",
    settings_cls=RegistrationSettings,
    migrations=MIGRATIONS,
    create_app=create_app,  # type: ignore[arg-type]
    background=background,
    extra={"partner": (_partner_args, _partner)},
)

if __name__ == "__main__":
    cli.main()
