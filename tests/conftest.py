"""Shared fixtures. ``fake_openai``: a real OpenAI-compatible HTTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.fake_openai import FakeOpenAI

pytest_plugins = ["helpers.pgserver"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that stops and starts its own PostgreSQL (a fault test) is ``slow``."""
    for item in items:
        if "private_pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server
