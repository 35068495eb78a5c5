"""Both session stores for the tests that hold them to the same guarantees: the memory store
and a real PostgreSQL (a fresh database per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from vel_runner.storage import SessionStore, create_store

STORE_KINDS = ["memory", "database"]


def msg(role: str, text: str, message_id: str | None = None) -> dict[str, Any]:
    """A chat message, with an ``id`` when one is given."""
    message: dict[str, Any] = {"role": role, "content": text}
    if message_id is not None:
        message["id"] = message_id
    return message


@asynccontextmanager
async def opened_store(kind: str, request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    """An open store of ``kind`` (``database``: on the test's fresh PostgreSQL database)."""
    if kind == "memory":
        store = create_store("memory")
    else:
        dsn = request.getfixturevalue("fresh_postgres_dsn")
        store = create_store("database", dsn=dsn, max_size=4, timeout=5.0)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
