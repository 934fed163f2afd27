"""The registration service: partners, road shows, delegations and participants.

    python -m services.registration [serve|api|worker|migrate|replay|partner ...]

`partner` holds the operator commands: create a partner (its first API key is
printed once), issue another key, revoke one.
"""

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
    doc=__doc__,
    extra={"partner": PARTNER_COMMAND},
)

if __name__ == "__main__":
    cli.main()
