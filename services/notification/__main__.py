"""python -m services.notification [serve|api|worker|migrate|replay|deliver]

`deliver` runs the delivery worker alone (no consumer, no relay): scale it out
with more processes; they share the work through leased claims."""

from __future__ import annotations

import argparse

from aiohttp import web

from services.notification.app import (
    MIGRATIONS,
    background_loops,
    create_app,
    create_service,
    create_worker,
)
from services.notification.settings import NotificationSettings
from shared.cli import Background, ServiceCli
from shared.db import migrate
from shared.runtime import run_until_stopped
from shared.settings import ServiceSettings


def background(settings: ServiceSettings, _app: web.Application | None) -> list[Background]:
    assert isinstance(settings, NotificationSettings)
    return background_loops(settings)


async def _deliver(settings: ServiceSettings, _args: argparse.Namespace) -> None:
    assert isinstance(settings, NotificationSettings)
    await migrate(settings.database_url.get_secret_value(), MIGRATIONS)
    worker = create_worker(settings, create_service(settings))
    await run_until_stopped(
        app=None, host=settings.http_host, port=settings.http_port, loops=[worker.run]
    )


cli = ServiceCli(
    name="notification",
    settings_cls=NotificationSettings,
    migrations=MIGRATIONS,
    create_app=create_app,  # type: ignore[arg-type]
    background=background,
    extra={"deliver": (lambda _parser: None, _deliver)},
)

if __name__ == "__main__":
    cli.main()
