"""Chat messages and session ids: the checks every entry point shares.

Messages are plain dicts in the OpenAI chat shape (``{"role": ..., "content": ...}``) because
that is what users pass to ``set_session_context`` and what providers consume.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidInputError

Message = dict[str, Any]

ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})
MAX_SESSION_ID_LENGTH = 256
MAX_MESSAGE_CHARS = 1_000_000


def check_session_id(session_id: object) -> str:
    """Return ``session_id`` if it is a non-empty string of sane length without control chars."""
    if not isinstance(session_id, str):
        raise InvalidInputError(
            f"session_id must be a string, got {type(session_id).__name__}: {session_id!r:.60}"
        )
    if not session_id or session_id.strip() != session_id:
        raise InvalidInputError(
            f"session_id must be a non-empty string without surrounding spaces, got {session_id!r}"
        )
    if len(session_id) > MAX_SESSION_ID_LENGTH:
        raise InvalidInputError(
            f"session_id is {len(session_id)} characters long; the limit is {MAX_SESSION_ID_LENGTH}"
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in session_id):
        raise InvalidInputError(f"session_id must not contain control characters: {session_id!r}")
    return session_id


def user_text(payload: object) -> str:
    """Extract the user's text from ``agent.run``'s first argument (``{'message': ...}`` or str)."""
    if isinstance(payload, Mapping):
        if "message" not in payload:
            raise InvalidInputError(
                f"input must have a 'message' key, got keys {sorted(map(str, payload))}"
            )
        text = payload["message"]
    else:
        text = payload
    if not isinstance(text, str):
        raise InvalidInputError(f"message must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InvalidInputError("message must not be empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise InvalidInputError(
            f"message is {len(text)} characters long; the limit is {MAX_MESSAGE_CHARS}"
        )
    return text


def check_messages(messages: object) -> list[Message]:
    """Validate a list of chat messages (for ``set_session_context``); return plain dict copies.

    Each must be a mapping with a known ``role``; its content must be JSON-serializable so that
    any store can keep it. The check happens before anything is written.
    """
    if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
        raise InvalidInputError(f"messages must be a list of dicts, got {type(messages).__name__}")
    checked: list[Message] = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise InvalidInputError(
                f"messages[{index}] must be a dict, got {type(message).__name__}"
            )
        role = message.get("role")
        if role not in ROLES:
            raise InvalidInputError(
                f"messages[{index}].role must be one of {sorted(ROLES)}, got {role!r}"
            )
        if "content" not in message and "tool_calls" not in message:
            raise InvalidInputError(f"messages[{index}] has no 'content'")
        copy = dict(message)
        try:
            json.dumps(copy)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"messages[{index}] is not JSON-serializable: {exc}") from None
        checked.append(copy)
    return checked


def pinned_count(messages: Sequence[Message]) -> int:
    """How many leading system messages (the session's system prompt) a session has.

    They are pinned: windows and trimming never drop them.
    """
    count = 0
    for message in messages:
        if message.get("role") != "system":
            break
        count += 1
    return count
