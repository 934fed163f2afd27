"""The organisers' and partners' console: web pages over the three services' public
APIs, with the signed-in partner's key.

    python -m services.console [serve]

It owns no data (no database, outbox or consumer), so it has none of the other
services' commands (migrate, replay, worker)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from services.console.bootstrap import create_app
from services.console.settings import ConsoleSettings
from shared.logging import configure_logging
from shared.runtime import run_in_loop, run_until_stopped
from shared.settings import load_settings
from shared.terminal import finish, new_parser, run_command

PROG = "python -m services.console"


@dataclass(frozen=True)
class ConsoleCli:
    name: str = "console"

    def parser(self) -> argparse.ArgumentParser:
        parser = new_parser(PROG, __doc__)
        commands = parser.add_subparsers(dest="command", metavar="command")
        commands.add_parser("serve", help="serve the console's pages until SIGTERM or SIGINT")
        return finish(parser)

    def main(self) -> None:
        sys.exit(run_command(PROG, self._serve))

    def _serve(self) -> None:
        self.parser().parse_args()
        settings = load_settings(ConsoleSettings)
        configure_logging("console", settings.log_level, settings.log_file)
        app = create_app(settings)
        run_in_loop(
            run_until_stopped(app=app, host=settings.http_host, port=settings.http_port, loops=[])
        )


cli = ConsoleCli()

if __name__ == "__main__":
    cli.main()
