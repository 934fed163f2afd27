"""The command line every service has: `python -m services.<name> [command]`.

  serve    (default) migrate, then the HTTP API and every background loop
  api      only the HTTP API
  worker   only the background loops (outbox relay, consumers)
  migrate  apply pending migrations and exit
  replay   re-publish a range of the outbox (--since/--until ISO times, --type)

A service adds its own commands through `extra`. Every command and subcommand
has `--help` and `--version`; failures end in one line and an exit code
(shared/terminal.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Generic, TypeVar

from aiohttp import web

from shared.db import connect, migrate
from shared.http.app import READINESS
from shared.kafka import ensure_topics
from shared.logging import configure_logging, get_logger
from shared.outbox import replay
from shared.runtime import Background, run_in_loop, run_until_stopped, tune_gc
from shared.settings import ServiceSettings, load_settings
from shared.terminal import finish, new_parser, run_command

log = get_logger(__name__)

S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class Command(Generic[S]):
    """A service's own subcommand: how it reads its arguments, and what it runs."""

    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[S, argparse.Namespace], Awaitable[None]]


@dataclass
class ServiceCli(Generic[S]):
    name: str
    settings_cls: type[S]
    migrations: list[tuple[str, Path]]
    create_app: Callable[[S], web.Application]
    background: Callable[[S], list[Background]]
    extra: dict[str, Command[S]] = field(default_factory=dict)
    doc: str | None = None  # the service's own help text (its __main__'s docstring)

    def main(self, argv: Sequence[str] | None = None) -> None:
        parser = self.parser()
        args = parser.parse_args(argv)
        prog = " ".join([parser.prog, args.command or "serve", getattr(args, "action", None) or ""])

        def run() -> None:
            settings = load_settings(self.settings_cls)
            configure_logging(self.name, settings.log_level, settings.log_file)
            tune_gc()
            run_in_loop(self._dispatch(settings, args), settings.event_loop)

        sys.exit(run_command(prog.strip(), run))

    def parser(self) -> argparse.ArgumentParser:
        parser = new_parser(f"python -m services.{self.name}", self.doc or __doc__)
        sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
        sub.add_parser("serve", help="migrate, then the HTTP API and every background loop")
        sub.add_parser("api", help="only the HTTP API")
        sub.add_parser("worker", help="only the background loops")
        sub.add_parser("migrate", help="apply pending migrations and exit")
        rp = sub.add_parser("replay", help="publish a range of the outbox again")
        rp.add_argument(
            "--since", type=datetime.fromisoformat, help="ISO time: rows created from then"
        )
        rp.add_argument(
            "--until", type=datetime.fromisoformat, help="ISO time: rows created before then"
        )
        rp.add_argument(
            "--type", action="append", dest="types", help="only this event type (repeatable)"
        )
        for name, command in self.extra.items():
            command.configure(sub.add_parser(name, help=command.help))
        return finish(parser)

    async def _dispatch(self, settings: S, args: argparse.Namespace) -> None:
        dsn = settings.database_url.get_secret_value()
        command = args.command or "serve"
        if command in self.extra:
            await self.extra[command].run(settings, args)
        elif command == "migrate":
            await migrate(dsn, self.migrations)
        elif command == "replay":
            await migrate(dsn, self.migrations)
            conn = await connect(dsn)
            try:
                count = await replay(
                    conn, since=args.since, until=args.until, event_types=args.types
                )
            finally:
                await conn.close()
            log.info("outbox.replay_requested", events=count)
            print(f"{count} events marked for re-publishing")
        else:
            await migrate(dsn, self.migrations)
            await ensure_topics(
                settings.kafka_bootstrap_servers,
                settings.topics.all(),
                compacted=settings.topics.compacted(),
            )
            app = self.create_app(settings) if command in ("serve", "api") else None
            loops = self.background(settings) if command in ("serve", "worker") else []
            if app is not None:
                for loop in loops:
                    app[READINESS][loop.name] = _as_check(loop.healthy)
            await run_until_stopped(
                app=app,
                host=settings.http_host,
                port=settings.http_port,
                loops=[b.run for b in loops],
            )


def _as_check(healthy: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return healthy()

    return check
