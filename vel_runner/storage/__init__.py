"""Session stores and the registry that builds them by type name.

Backends are imported lazily so that ``memory`` users never import psycopg.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import InvalidInputError
from .base import (
    UNCHANGED,
    HistoryEdit,
    MessageIndex,
    MessageRef,
    SessionEvent,
    SessionInfo,
    SessionRecord,
    SessionStore,
    SessionTurn,
)

STORE_TYPES: dict[str, str] = {
    "memory": "vel_runner.storage.memory:MemoryStore",
    "database": "vel_runner.storage.postgres:PostgresStore",
}


def store_class(kind: str) -> type[Any]:
    """The store class registered under ``kind`` (``memory``, ``database``)."""
    try:
        target = STORE_TYPES[kind]
    except KeyError:
        raise InvalidInputError(
            f"unknown session_storage {kind!r}; expected one of {sorted(STORE_TYPES)} "
            "or a SessionStore instance"
        ) from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def create_store(kind: str, **options: Any) -> SessionStore:
    """Build a store of type ``kind`` with its options (``dsn``, pool sizes, ``name``...)."""
    return store_class(kind)(**options)


def resolve_store(spec: str | SessionStore) -> SessionStore:
    """``Agent(session_storage=...)``: a type name builds a new store; an instance is used."""
    if isinstance(spec, str):
        return create_store(spec)
    if isinstance(spec, SessionStore):
        return spec
    raise InvalidInputError(
        f"session_storage must be 'memory', 'database' or a SessionStore, got {spec!r:.80}"
    )


__all__ = [
    "STORE_TYPES",
    "UNCHANGED",
    "HistoryEdit",
    "MessageIndex",
    "MessageRef",
    "SessionEvent",
    "SessionInfo",
    "SessionRecord",
    "SessionStore",
    "SessionTurn",
    "create_store",
    "resolve_store",
    "store_class",
]
