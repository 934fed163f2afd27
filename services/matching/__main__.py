"""python -m services.matching [serve|api|worker|migrate|replay]"""

from __future__ import annotations

from aiohttp import web

from services.matching.app import MIGRATIONS, SchedulingWorker, create_app, create_relay
from services.matching.consumer import create_consumer
from services.matching.service import Matching
from services.matching.settings import MatchingSettings
from shared.cli import Background, ServiceCli
from shared.settings import ServiceSettings


def background(settings: ServiceSettings, _app: web.Application | None) -> list[Background]:
    assert isinstance(settings, MatchingSettings)
    service = Matching(settings)
    relay = create_relay(settings)
    consumer = create_consumer(settings, service)
    worker = SchedulingWorker(settings, service)
    return [
        Background("outbox_relay", relay.run, relay.healthy),
        Background("registration_consumer", consumer.run, consumer.healthy),
        Background("scheduling_worker", worker.run, worker.healthy),
    ]


cli = ServiceCli(
    name="matching",
    settings_cls=MatchingSettings,
    migrations=MIGRATIONS,
    create_app=create_app,  # type: ignore[arg-type]
    background=background,
)

if __name__ == "__main__":
    cli.main()
