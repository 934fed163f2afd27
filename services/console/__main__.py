"""python -m services.console [serve]: the console's HTTP server until SIGTERM/SIGINT.

It has no database, outbox or consumer, so it needs none of the other services'
commands (migrate, replay, worker)."""

from __future__ import annotations

import argparse
import asyncio

from services.console.bootstrap import create_app
from services.console.settings import ConsoleSettings
from shared.logging import configure_logging
from shared.runtime import run_until_stopped
from shared.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.console")
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "api"])
    parser.parse_args()
    settings = load_settings(ConsoleSettings)
    configure_logging("console", settings.log_level, settings.log_file)
    app = create_app(settings)
    asyncio.run(
        run_until_stopped(app=app, host=settings.http_host, port=settings.http_port, loops=[])
    )


if __name__ == "__main__":
    main()
