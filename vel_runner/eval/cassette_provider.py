"""The provider wrapper that records model exchanges to cassettes or replays them.

It sits at the provider boundary (``complete`` and ``stream``), put there by the runtime's
``wrap_provider`` hook, so everything above it (the tool loop, tools, sessions, context
modes) runs for real while the model's answers come from the cassette. A replaying wrapper
never touches the provider it wraps: no network, no key, not even the SDK import. Offline
providers (``echo``) are deterministic and local: they are not wrapped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import aclosing
from typing import Any

from ..config.build import ProviderWrapper
from ..errors import ProviderError
from ..messages import Message
from ..providers.base import Chunk, Completion, Provider
from .cassette import as_chunks, as_completion, chunks_json, completion_json
from .tape import SCOPE, Scope

#: Provider types that answer offline and deterministically: never recorded, never replayed.
OFFLINE_TYPES = frozenset({"echo"})


def _scope() -> Scope:
    scope = SCOPE.get()
    if scope is None:
        raise ProviderError("a model request outside an eval case", provider="cassette")
    return scope


class CassetteProvider:
    """Answers from the current case's cassette (replay) or asks ``inner`` and keeps the
    exchange (record)."""

    def __init__(self, inner: Provider, name: str, *, record: bool) -> None:
        self.inner = inner
        self.name = name
        self.record = record
        self.type = inner.type

    def __repr__(self) -> str:
        mode = "record" if self.record else "replay"
        return f"CassetteProvider({self.name!r}, {mode})"

    def preload(self) -> None:
        """Import what the wrapped provider needs, only when it will be called (record)."""
        load = getattr(self.inner, "preload", None)
        if self.record and callable(load):
            load()

    async def complete(
        self, messages: Sequence[Message], *, model: str, settings: Mapping[str, Any]
    ) -> Completion:
        scope = _scope()
        seq = scope.next_seq()
        request, key = scope.tape.request(model, messages, settings)
        if not self.record:
            return as_completion(scope.tape.answer(scope, request, key).response)
        completion = await self.inner.complete(messages, model=model, settings=settings)
        scope.tape.add(scope, seq, self.name, request, key, completion_json(completion))
        return completion

    async def stream(
        self, messages: Sequence[Message], *, model: str, settings: Mapping[str, Any]
    ) -> AsyncIterator[Chunk]:
        scope = _scope()
        seq = scope.next_seq()
        request, key = scope.tape.request(model, messages, settings)
        if not self.record:
            for chunk in as_chunks(scope.tape.answer(scope, request, key).response):
                await asyncio.sleep(0)  # as a network stream would: others run in between
                yield chunk
            return
        chunks: list[Chunk] = []
        stream = self.inner.stream(messages, model=model, settings=settings)
        async with aclosing(stream):  # type: ignore[type-var]
            async for chunk in stream:
                chunks.append(chunk)
                yield chunk
        scope.tape.add(scope, seq, self.name, request, key, chunks_json(chunks))

    async def aclose(self) -> None:
        await self.inner.aclose()


def cassette_wrapper(*, record: bool) -> ProviderWrapper:
    """The runtime hook that puts a :class:`CassetteProvider` around every online provider."""

    def wrap(name: str, provider: Provider) -> Provider:
        if provider.type in OFFLINE_TYPES:
            return provider
        return CassetteProvider(provider, name, record=record)

    return wrap


__all__ = ["OFFLINE_TYPES", "CassetteProvider", "cassette_wrapper"]
