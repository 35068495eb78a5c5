"""A stored chat as AI SDK UI messages: what ``useChat({ messages })`` needs to show a chat
after a reload exactly as the live stream showed it.

The stream (:mod:`vel_runner.events`) builds one assistant UI message per turn: a
``step-start`` part per model call, a ``text`` part where the model wrote text, and a
``dynamic-tool`` part per tool call (input, then output or error). The session stores the
same turn in the chat completions shape: assistant messages with ``tool_calls``, ``tool``
results, and the answer (under the turn's id). :func:`to_ui_messages` folds them back:

- a user message -> ``{id, role: "user", parts: [{type: "text", text}]}``, under the id the
  client gave it;
- the messages after it, up to the next user message -> one assistant message: per assistant
  message a ``step-start``, its text (the answer's text part is always there, as live), and
  its tool calls, each with the result that answers it: ``output-available`` with the output
  (JSON when the result is JSON, else the text), ``output-error`` with the error text, or
  ``input-available`` when no result was stored (a client-side tool still to answer). The
  message takes the answer's id (the ``start`` chunk's ``messageId``) and its metadata:
  ``agentId``, ``sessionId`` and what the server stored (``interrupted``);
- system messages (a session's system prompt) are instructions, not chat: left out.

Messages stored without an id (set through ``PUT .../sessions/{id}``) get ``m<index>``, the
index of their first stored message, so the ids are stable between loads. Free of FastAPI:
the server's route and any library user can call it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .messages import Message

UIMessage = dict[str, Any]
UIPart = dict[str, Any]

#: Roles that belong to the assistant's side of a turn.
ASSISTANT_SIDE = frozenset({"assistant", "tool"})


def text_of(content: object) -> str:
    """A message's text: a string as is; OpenAI content parts joined; nothing else."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") in ("text", "input_text")
        )
    return ""


def tool_output(content: object) -> Any:
    """The output a tool result showed live: its JSON value, or its text when not JSON."""
    text = text_of(content)
    try:
        return json.loads(text)
    except ValueError:
        return text


def tool_error(message: Message) -> str | None:
    """The error text of a failed call (``{"error": "..."}``, what a failed call stores)."""
    metadata = message.get("metadata")
    marked = metadata.get("error") if isinstance(metadata, Mapping) else None
    if isinstance(marked, str):
        return marked
    output = tool_output(message.get("content"))
    if isinstance(output, dict) and list(output) == ["error"] and isinstance(output["error"], str):
        return str(output["error"])
    return None


def tool_part(call: Mapping[str, Any], result: Message | None) -> UIPart:
    """A ``dynamic-tool`` part: the call and, when stored, its result."""
    function = call.get("function") or {}
    arguments = str(function.get("arguments") or "")
    try:
        given = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        given = arguments  # as the stream sends invalid JSON: the raw text
    part: UIPart = {
        "type": "dynamic-tool",
        "toolName": str(function.get("name") or ""),
        "toolCallId": str(call.get("id") or ""),
        "state": "input-available",
        "input": given,
    }
    if result is None:
        return part
    error = tool_error(result)
    if error is not None:
        part.update(state="output-error", errorText=error)
    else:
        part.update(state="output-available", output=tool_output(result.get("content")))
    return part


def assistant_parts(turn: Sequence[Message]) -> list[UIPart]:
    """The parts of one assistant turn: a step per assistant message, as the stream sent."""
    results = {str(m.get("tool_call_id")): m for m in turn if m.get("role") == "tool"}
    parts: list[UIPart] = []
    for message in turn:
        if message.get("role") != "assistant":
            continue
        calls = [c for c in message.get("tool_calls") or () if isinstance(c, Mapping)]
        text = text_of(message.get("content"))
        parts.append({"type": "step-start"})
        if text or not calls:  # the answer's text part exists even when empty, as live
            parts.append({"type": "text", "text": text, "state": "done"})
        parts.extend(tool_part(call, results.get(str(call.get("id")))) for call in calls)
    return parts


def _groups(messages: Sequence[Message]) -> Iterator[tuple[int, list[Message]]]:
    """``(index of the first message, messages)``: each user message alone, and each run of
    assistant and tool messages between them; other roles are left out."""
    group: list[Message] = []
    start = 0
    for index, message in enumerate(messages):
        role = message.get("role")
        if role in ASSISTANT_SIDE:
            if not group:
                start = index
            group.append(message)
            continue
        if group:
            yield start, group
            group = []
        if role == "user":
            yield index, [message]
    if group:
        yield start, group


def _metadata(agent_id: str, chat_id: str, stored: object) -> dict[str, Any]:
    metadata: dict[str, Any] = {"agentId": agent_id, "sessionId": chat_id}
    if isinstance(stored, Mapping):
        metadata.update(stored)
    return metadata


def to_ui_messages(messages: Sequence[Message], agent_id: str, chat_id: str) -> list[UIMessage]:
    """The stored ``messages`` of chat ``chat_id`` as the AI SDK's UI messages."""
    ui: list[UIMessage] = []
    for index, group in _groups(messages):
        first = group[0]
        if first.get("role") == "user":
            ui.append(
                {
                    "id": str(first.get("id") or f"m{index}"),
                    "role": "user",
                    "parts": [{"type": "text", "text": text_of(first.get("content"))}],
                }
            )
            continue
        answer = next((m for m in reversed(group) if m.get("id")), None)
        ui.append(
            {
                "id": str(answer["id"]) if answer is not None else f"m{index}",
                "role": "assistant",
                "metadata": _metadata(
                    agent_id, chat_id, answer.get("metadata") if answer is not None else None
                ),
                "parts": assistant_parts(group),
            }
        )
    return ui


__all__ = ["to_ui_messages"]
