"""python -m services.registration [serve|api|worker|migrate|replay|partner ...]"""

from __future__ import annotations

from services.registration.bootstrap import (
    MIGRATIONS,
    NAME,
    PARTNER_COMMAND,
    background,
    create_app,
)
from services.registration.settings import RegistrationSettings
from shared.cli import ServiceCli

cli = ServiceCli(
    name=NAME,
    settings_cls=RegistrationSettings,
    migrations=MIGRATIONS,
    create_app=create_app,
    background=background,
    extra={"partner": PARTNER_COMMAND},
)

if __name__ == "__main__":
    cli.main()
