"""Which handlers an event type reaches: each service lists its subscriptions in
one registry (`events/handlers.py`), and the idempotent consumer dispatches
through it.

A handler is an entrypoint like a route: it gets the unit of work (already on
behalf of the event), the envelope and its validated contract, maps them to a
use case's command and calls it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from shared.contracts import CONTRACTS, EventType
from shared.envelope import Envelope
from shared.unit_of_work import UnitOfWork

EventHandler = Callable[[UnitOfWork, Envelope, Any], Awaitable[None]]
H = TypeVar("H", bound=EventHandler)


class EventHandlers:
    def __init__(self) -> None:
        self._by_type: dict[str, list[EventHandler]] = {}

    def on(self, *types: EventType) -> Callable[[H], H]:
        """Register the decorated handler for these event types."""

        def register(handler: H) -> H:
            for type_ in types:
                self.add(type_, handler)
            return handler

        return register

    def add(self, type_: EventType, handler: EventHandler) -> None:
        if type_ not in CONTRACTS.event_types():
            raise ValueError(f"no contract for event type {type_!r}")
        self._by_type.setdefault(type_, []).append(handler)

    def include(self, other: EventHandlers) -> EventHandlers:
        for type_, handlers in other._by_type.items():
            self._by_type.setdefault(type_, []).extend(handlers)
        return self

    def handlers_for(self, type_: str) -> tuple[EventHandler, ...]:
        return tuple(self._by_type.get(type_, ()))

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._by_type)
