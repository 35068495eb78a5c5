"""The provider protocol: how the agent asks a model for a reply.

A provider turns a list of chat messages into a reply, whole (``complete``) or streamed
(``stream``, text deltas then a final chunk with usage). Errors surface as
:class:`~vel_runner.errors.ProviderError` so the agent and the server need not know the SDK.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..messages import Message


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as the provider reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole reply."""

    text: str
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a streamed reply: a text delta, or (last) the usage."""

    delta: str = ""
    usage: Usage | None = None


@runtime_checkable
class Provider(Protocol):
    """A model backend. ``type`` is its registry name (``openai``, ``echo``).

    It may also have a ``preload()`` method (synchronous, run in a worker thread when a
    runtime starts or reloads) that imports what its turns will need.
    """

    type: str

    async def complete(
        self, messages: Sequence[Message], *, model: str, settings: Mapping[str, Any]
    ) -> Completion:
        """The model's reply to ``messages``."""
        ...

    def stream(
        self, messages: Sequence[Message], *, model: str, settings: Mapping[str, Any]
    ) -> AsyncIterator[Chunk]:
        """The model's reply to ``messages`` as it is produced."""
        ...

    async def aclose(self) -> None:
        """Release clients and connections."""
        ...
