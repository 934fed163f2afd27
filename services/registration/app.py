"""Wiring: the registration app and its background loops, from settings."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from services.registration.api import SERVICE, api
from services.registration.service import Registration
from services.registration.settings import RegistrationSettings
from shared.db import SHARED_MIGRATIONS
from shared.http.app import create_service_app
from shared.outbox import OutboxRelay, relay_from_settings

MIGRATIONS = [("shared", SHARED_MIGRATIONS), ("registration", Path(__file__).parent / "migrations")]


def create_app(settings: RegistrationSettings) -> web.Application:
    app = create_service_app(api, settings, admin_token=settings.admin_token)
    app[SERVICE] = Registration(settings.topics)
    return app


def create_relay(settings: RegistrationSettings) -> OutboxRelay:
    return relay_from_settings(settings)
