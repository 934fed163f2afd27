"""The notification service: tells banks (signed webhooks) and people (e-mail)
about matches and meetings.

    python -m services.notification [serve|api|worker|migrate|replay|deliver]

`deliver` runs the delivery worker alone (no consumer, no relay): scale it out
with more processes; they share the work through leased claims."""

from __future__ import annotations

import argparse

from services.notification.bootstrap import MIGRATIONS, background, create_app, create_worker
from services.notification.settings import NotificationSettings
from shared.cli import Command, ServiceCli
from shared.db import migrate
from shared.runtime import run_until_stopped


async def _deliver(settings: NotificationSettings, _args: argparse.Namespace) -> None:
    await migrate(settings.database_url.get_secret_value(), MIGRATIONS)
    worker = create_worker(settings)
    await run_until_stopped(
        app=None, host=settings.http_host, port=settings.http_port, loops=[worker.run]
    )


cli = ServiceCli(
    name="notification",
    settings_cls=NotificationSettings,
    migrations=MIGRATIONS,
    create_app=create_app,
    background=background,
    doc=__doc__,
    extra={
        "deliver": Command(
            help="only the delivery worker (webhooks and e-mail); scale out with more",
            configure=lambda _parser: None,
            run=_deliver,
        )
    },
)

if __name__ == "__main__":
    cli.main()
