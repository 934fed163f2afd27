"""The matching service: reads registrations, proposes matches between
enterprises and participants, and schedules their meetings.

    python -m services.matching [serve|api|worker|migrate|replay]
"""

from __future__ import annotations

from services.matching.bootstrap import MIGRATIONS, background, create_app
from services.matching.settings import MatchingSettings
from shared.cli import ServiceCli

cli = ServiceCli(
    name="matching",
    settings_cls=MatchingSettings,
    migrations=MIGRATIONS,
    create_app=create_app,
    background=background,
    doc=__doc__,
)

if __name__ == "__main__":
    cli.main()
