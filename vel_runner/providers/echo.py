"""The ``echo`` provider: offline and deterministic, for demos, CI and config testing.

It replies with how many messages it saw and the last user message, so a test or a person
can see exactly what context the model received. It streams word by word.

Tools, offline: when the request offers tools (and ``tool_choice`` is not ``"none"``), each
line ``/tool NAME {json arguments}`` of the last user message becomes a call of tool NAME
(several lines: parallel calls). Given the results, it echoes them:
``echo (N messages): NAME -> <result>``.

Structured output, offline: a request with a ``response_format`` gets JSON (the user's message
when it is JSON, else an object built from the schema: see :mod:`.echo_output`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from ..messages import Message
from ..tools.base import ToolCall
from .base import Chunk, Completion, ToolCallDelta, Usage
from .echo_output import structured_answer

TOOL_COMMAND = "/tool "
#: Requests whose word counts the provider keeps (then it starts over).
COUNTED_REQUESTS = 10_000


def _last_user_text(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else str(content)
    return ""


def _tool_calls(messages: Sequence[Message], settings: Mapping[str, Any]) -> list[ToolCall]:
    """The ``/tool NAME {json}`` lines of the last message, when it is the user's and tools
    are offered."""
    if not settings.get("tools") or settings.get("tool_choice") == "none" or not messages:
        return []
    last = messages[-1]
    content = last.get("content")
    if last.get("role") != "user" or not isinstance(content, str):
        return []
    calls: list[ToolCall] = []
    for line in content.splitlines():
        if not line.startswith(TOOL_COMMAND):
            continue
        name, _, arguments = line.removeprefix(TOOL_COMMAND).strip().partition(" ")
        calls.append(
            ToolCall(f"call_{len(messages)}_{len(calls)}", name, arguments.strip() or "{}")
        )
    return calls


def _results_text(messages: Sequence[Message]) -> str | None:
    """``NAME -> result`` for the tool results that end ``messages`` (None: they do not)."""
    results: list[Message] = []
    index = len(messages)
    while index > 0 and messages[index - 1].get("role") == "tool":
        index -= 1
        results.insert(0, messages[index])
    if not results:
        return None
    names: dict[str, str] = {}
    if index > 0:
        for call in messages[index - 1].get("tool_calls") or ():
            names[call.get("id")] = (call.get("function") or {}).get("name", "?")
    return "; ".join(
        f"{names.get(str(r.get('tool_call_id')), '?')} -> {r.get('content', '')}" for r in results
    )


class EchoProvider:
    """Replies ``echo (N messages): <last user message>``; ``delay`` seconds per chunk."""

    type = "echo"

    def __init__(self, *, delay: float = 0.0, **_ignored: Any) -> None:
        self.delay = float(delay)
        #: The word counts of requests seen lately, by their first message: a session's
        #: history comes back every turn (the same message objects), and counting it again
        #: would make a long session cost the server what no real model's would.
        self._counted: dict[int, tuple[Message, int, Message, int]] = {}

    def _count_words(self, messages: Sequence[Message]) -> int:
        """The words of every message's content (as ``str``); what an earlier request of
        the same session counted already (the same objects, first to last) is not counted
        again."""
        if not messages:
            return 0
        first, counted = messages[0], self._counted
        known = counted.get(id(first))
        start, total = 0, 0
        if (
            known is not None
            and known[0] is first
            and known[1] <= len(messages)
            and messages[known[1] - 1] is known[2]
        ):
            start, total = known[1], known[3]
        for message in messages[start:]:
            content = message.get("content", "")
            total += len((content if isinstance(content, str) else str(content)).split())
        if len(counted) > COUNTED_REQUESTS:
            counted.clear()
        counted[id(first)] = (first, len(messages), messages[-1], total)  # holds both alive
        return total

    def _reply(self, messages: Sequence[Message], settings: Mapping[str, Any]) -> tuple[str, Usage]:
        user = _last_user_text(messages)
        said = None
        if messages and messages[-1].get("role") == "tool":
            said = _results_text(messages)
        text = f"echo ({len(messages)} messages): {user if said is None else said}"
        response_format = settings.get("response_format")
        if response_format is not None and isinstance(response_format, Mapping):  # ABC: slow
            text = structured_answer(response_format, user, text) or text
        prompt_words = self._count_words(messages)  # the words of every message
        return text, Usage(prompt_tokens=prompt_words, completion_tokens=len(text.split()))

    async def complete(
        self, messages: Sequence[Message], *, model: str, settings: Mapping[str, Any]
    ) -> Completion:
        calls = _tool_calls(messages, settings) if settings.get("tools") else ()
        text, usage = self._reply(messages, settings)
        if self.delay:
            await asyncio.sleep(self.delay)
        if calls:
            return Completion("", Usage(usage.prompt_tokens, len(calls)), tuple(calls))
        return Completion(text, usage)

    async def stream(
        self, messages: Sequence[Message], *, model: str, settings: Mapping[str, Any]
    ) -> AsyncIterator[Chunk]:
        calls = _tool_calls(messages, settings)
        text, usage = self._reply(messages, settings)
        if calls:
            for call in calls:
                half = len(call.arguments) // 2
                await asyncio.sleep(self.delay)
                yield Chunk(tool_call=ToolCallDelta(call.id, call.name, call.arguments[:half]))
                yield Chunk(tool_call=ToolCallDelta(call.id, None, call.arguments[half:]))
            yield Chunk(usage=Usage(usage.prompt_tokens, len(calls)))
            return
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
