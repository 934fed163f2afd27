"""Which failures are transient — worth retrying until they pass — and which are
deterministic, the same on every try.

A lost or refused connection, a closed pool, a serialization failure, a deadlock,
a timeout or a server shutting down says nothing about the work itself: retrying
it later succeeds. Everything else (a contract the data breaks, a domain rule, a
bug) fails the same way again, so only those may end in a dead-letter topic.
"""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, NodeNotReadyError

# SQLSTATE classes of conditions outside the statement: connection exception,
# transaction rollback (serialization, deadlock), insufficient resources, object not
# in prerequisite state (a database not accepting connections, a lock not
# available), operator intervention (shutdown, cancel by timeout), system error.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "55", "57", "58")

_TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable (ConnectionError and socket errors)
    TimeoutError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,  # pool closed, connection closed or released mid-use
    asyncpg.exceptions.ConnectionDoesNotExistError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
)


class NotYet(Exception):
    """Raised by a handler when what it needs has not arrived yet (an event from
    another topic): transient, so the consumer retries until it has."""


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (*_TRANSIENT_TYPES, NotYet)):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        sqlstate = str(getattr(exc, "sqlstate", "") or "")
        return sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES
    # An error raised `from` a transient one (a client wrapping a lost socket) is too.
    cause = exc.__cause__
    return cause is not None and cause is not exc and is_transient(cause)


def backoff_seconds(attempt: int, base: float, cap: float = 30.0) -> float:
    """Exponential backoff for the n-th retry (1-based), capped."""
    return float(min(cap, base * 2 ** min(attempt - 1, 20)))
