"""The provider protocol: how the agent asks a model for a reply.

A provider turns a list of chat messages into a reply, whole (``complete``) or streamed
(``stream``, text and tool-call deltas, then a final chunk with usage). Tools go in
``settings`` as the chat completions API spells them (``tools``, ``tool_choice``,
``parallel_tool_calls``); the model's calls come back in ``Completion.tool_calls`` or, streamed,
as :class:`ToolCallDelta` chunks whose ids the provider has already resolved. Errors surface as
:class:`~vel_runner.errors.ProviderError` so the agent and the server need not know the SDK;
their messages reach clients and logs, so they never carry a key or URL credentials (see
:mod:`vel_runner.redact`). The final chunk means the model finished: a stream the server ended
before that (no finish reason) raises instead, so a partial reply is never stored as an answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..messages import Message
from ..tools.base import ToolCall


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
    tool_calls: tuple[ToolCall, ...] = ()
    #: Why the model stopped, in OpenAI's words (``stop``, ``length``, ``tool_calls``...).
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call: ``name`` on its first piece, then argument text.

    ``id`` is final (the provider keys deltas by index and makes up an id when the server
    sends none), so every piece of one call carries the same id.
    """

    id: str
    name: str | None
    arguments: str = ""


@dataclass(slots=True)
class Chunk:
    """A piece of a streamed reply: a text delta, a tool-call delta, or (last) the usage; the
    chunk that ends the reply may carry the model's ``finish_reason``. (Read-only by
    convention: not a frozen dataclass, whose every field costs a call to set, on the path
    of every delta.)"""

    delta: str = ""
    usage: Usage | None = None
    tool_call: ToolCallDelta | None = None
    finish_reason: str | None = None


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
