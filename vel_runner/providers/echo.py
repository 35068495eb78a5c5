"""The ``echo`` provider: offline and deterministic, for demos, CI and config testing.

It replies with how many messages it saw and the last user message, so a test or a person
can see exactly what context the model received. It streams word by word.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ..messages import Message
from .base import Chunk, Completion, Usage


def _last_user_text(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else str(content)
    return ""


class EchoProvider:
    """Replies ``echo (N messages): <last user message>``; ``delay`` seconds per chunk."""

    type = "echo"

    def __init__(self, *, delay: float = 0.0, **_ignored: Any) -> None:
        self.delay = float(delay)

    def _reply(self, messages: Sequence[Message]) -> tuple[str, Usage]:
        text = f"echo ({len(messages)} messages): {_last_user_text(messages)}"
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in messages)
        return text, Usage(prompt_tokens=prompt_words, completion_tokens=len(text.split()))

    async def complete(
        self, messages: Sequence[Message], *, model: str, settings: Mapping[str, Any]
    ) -> Completion:
        text, usage = self._reply(messages)
        if self.delay:
            await asyncio.sleep(self.delay)
        return Completion(text, usage)

    async def stream(
        self, messages: Sequence[Message], *, model: str, settings: Mapping[str, Any]
    ) -> AsyncIterator[Chunk]:
        text, usage = self._reply(messages)
        words = text.split(" ")
        for index, word in enumerate(words):
            if self.delay:
                await asyncio.sleep(self.delay)
            else:
                await asyncio.sleep(0)  # let other tasks (and cancellation) in between words
            yield Chunk(word if index == 0 else " " + word)
        yield Chunk(usage=usage)

    async def aclose(self) -> None:
        return None
