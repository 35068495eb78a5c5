"""Shared fixtures. ``fake_openai``: a real OpenAI-compatible HTTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers.fake_openai import FakeOpenAI

pytest_plugins = ["helpers.pgserver"]


@pytest.fixture(scope="session")
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server
