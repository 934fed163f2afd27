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

import structlog

from shared.contracts import CONTRACTS, EventType
from shared.envelope import Envelope
from shared.unit_of_work import UnitOfWork

EventHandler = Callable[[UnitOfWork, Envelope, Any], Awaitable[None]]
# A handler that takes a run of consecutive events at once (each with its contract),
# where handling them together is cheaper than one by one (a burst scored as a block).
BatchHandler = Callable[[UnitOfWork, list[tuple[Envelope, Any]]], Awaitable[None]]
H = TypeVar("H", bound=EventHandler)
BH = TypeVar("BH", bound=BatchHandler)


class EventHandlers:
    def __init__(self) -> None:
        self._by_type: dict[str, list[EventHandler]] = {}
        self._batch: dict[str, BatchHandler] = {}

    def on(self, *types: EventType) -> Callable[[H], H]:
        """Register the decorated handler for these event types."""

        def register(handler: H) -> H:
            for type_ in types:
                self.add(type_, handler)
            return handler

        return register

    def batch(self, *types: EventType) -> Callable[[BH], BH]:
        """Register the decorated handler for runs of consecutive events of these types.

        The consumer hands it every run of such events in a poll batch, in their
        order, inside the batch's unit of work; the handler emits with
        `uow.caused_by(event)` per event."""

        def register(handler: BH) -> BH:
            for type_ in types:
                self._add_batch(type_, handler)
            return handler

        return register

    def add(self, type_: EventType, handler: EventHandler) -> None:
        self._add(type_, handler)

    def _add(self, type_: str, handler: EventHandler) -> None:
        self._check(type_)
        if type_ in self._batch:
            raise ValueError(f"{type_!r} already has a batch handler")
        self._by_type.setdefault(type_, []).append(handler)

    def _add_batch(self, type_: str, handler: BatchHandler) -> None:
        self._check(type_)
        if type_ in self._by_type or type_ in self._batch:
            raise ValueError(f"{type_!r} already has a handler")
        self._batch[type_] = handler

    @staticmethod
    def _check(type_: str) -> None:
        if type_ not in CONTRACTS.event_types():
            raise ValueError(f"no contract for event type {type_!r}")

    def include(self, other: EventHandlers) -> EventHandlers:
        for type_, handlers in other._by_type.items():
            for handler in handlers:
                self._add(type_, handler)
        for type_, batch_handler in other._batch.items():
            self._add_batch(type_, batch_handler)
        return self

    def handlers_for(self, type_: str) -> tuple[EventHandler, ...]:
        return tuple(self._by_type.get(type_, ()))

    def batch_handler_for(self, type_: str) -> BatchHandler | None:
        return self._batch.get(type_)

    def handles(self, type_: str) -> bool:
        return type_ in self._by_type or type_ in self._batch

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._by_type) | frozenset(self._batch)

    async def run(self, uow: UnitOfWork, events: list[tuple[Envelope, Any]]) -> None:
        """Handle `events` in order in one unit: each run of consecutive events with the
        same batch handler in one call, every other event through its handlers."""
        i = 0
        while i < len(events):
            batch_handler = self._batch.get(events[i][0].type)
            if batch_handler is None:
                event, data = events[i]
                with structlog.contextvars.bound_contextvars(
                    correlation_id=event.correlation_id, event_id=str(event.id)
                ):
                    for handler in self._by_type.get(event.type, ()):
                        await handler(uow.caused_by(event), event, data)
                i += 1
                continue
            j = i + 1
            while j < len(events) and self._batch.get(events[j][0].type) is batch_handler:
                j += 1
            await batch_handler(uow, events[i:j])
            i = j
