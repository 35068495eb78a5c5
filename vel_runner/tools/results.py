"""Results of tool calls that the client ran (tools it declared itself, on the
OpenAI-compatible route): they come back as the next turn's input, and must answer the
session's last assistant message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import InvalidInputError
from ..messages import MAX_MESSAGE_CHARS, Message, check_text


def tool_result_messages(results: Any) -> list[Message]:
    """``[{"tool_call_id": ..., "content": ...}, ...]`` as ``tool`` messages (checked)."""
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence) or not results:
        raise InvalidInputError("tool_results must be a non-empty list of {tool_call_id, content}")
    messages: list[Message] = []
    for index, result in enumerate(results):
        call_id = result.get("tool_call_id") if isinstance(result, dict) else None
        content = result.get("content") if isinstance(result, dict) else None
        if not isinstance(call_id, str) or not call_id:
            raise InvalidInputError(f"tool_results[{index}].tool_call_id must be a string")
        if isinstance(content, list):  # OpenAI content parts
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        if not isinstance(content, str) or len(content) > MAX_MESSAGE_CHARS:
            raise InvalidInputError(
                f"tool_results[{index}].content must be a string of at most "
                f"{MAX_MESSAGE_CHARS} characters"
            )
        check_text(content, f"tool_results[{index}].content")
        check_text(call_id, f"tool_results[{index}].tool_call_id")
        messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
    return messages


def check_results_continue(history: Sequence[Message], results: Sequence[Message]) -> None:
    """Refuse results that do not answer the calls still waiting in the session: those of its
    last assistant message that have no result yet (a step that called a server tool and a
    client tool stored the server tool's result already)."""
    index = len(history)
    answered: set[Any] = set()
    while index > 0 and history[index - 1].get("role") == "tool":
        index -= 1
        answered.add(history[index].get("tool_call_id"))
    last = history[index - 1] if index > 0 else {}
    calls = last.get("tool_calls") if last.get("role") == "assistant" else None
    expected = {c.get("id") for c in calls or () if isinstance(c, dict)} - answered
    given = [r["tool_call_id"] for r in results]
    unknown = [call_id for call_id in given if call_id not in expected]
    if not expected or unknown:
        raise InvalidInputError(
            f"tool results {unknown or given} do not answer the session's last message "
            f"(it awaits results for {sorted(map(str, expected))})"
        )
