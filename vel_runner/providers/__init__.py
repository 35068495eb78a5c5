"""Model providers and the registry that builds them by type name.

Implementations are imported lazily: ``echo`` users (and ``vel-runner validate``) never import
the ``openai`` SDK.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from ..errors import InvalidInputError
from ..own_thread import in_own_thread
from .base import Chunk, Completion, Provider, Usage

PROVIDER_TYPES: dict[str, str] = {
    "openai": "vel_runner.providers.openai:OpenAIProvider",
    "echo": "vel_runner.providers.echo:EchoProvider",
}


def create_provider(type_name: str, **options: Any) -> Provider:
    """Build a provider of ``type_name`` with its options (``api_key``, ``base_url``...)."""
    try:
        target = PROVIDER_TYPES[type_name]
    except KeyError:
        raise InvalidInputError(
            f"unknown provider {type_name!r}; expected one of {sorted(PROVIDER_TYPES)}"
        ) from None
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    return cls(**options)


async def preload(providers: Iterable[Provider]) -> None:
    """Import what the providers will need (the openai SDK is slow to import) in a thread,
    so that the first turn after a start or a reload does not stall the event loop on it."""
    loaders = {type(p): getattr(p, "preload", None) for p in providers}
    for load in loaders.values():
        if callable(load):
            await in_own_thread(load, name="provider-preload")


__all__ = [
    "PROVIDER_TYPES",
    "Chunk",
    "Completion",
    "Provider",
    "Usage",
    "create_provider",
    "preload",
]
