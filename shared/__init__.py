"""Roadshow platform: infrastructure and contracts shared by the services.

Never one service's domain: settings, logging, the event envelope and contracts,
the database pool and migrations, outbox and idempotent consumer, HTTP plumbing.
"""
