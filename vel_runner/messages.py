"""Chat messages and session ids: the checks every entry point shares.

Messages are plain dicts in the OpenAI chat shape (``{"role": ..., "content": ...}``) because
that is what users pass to ``set_session_context`` and what providers consume.

Text must be storable and sendable everywhere: :func:`check_json` refuses lone surrogates
(no UTF-8 form: the JSON encoder, PostgreSQL and the HTTP client all fail on them later), NUL
(PostgreSQL cannot store it) and NaN/Infinity (not JSON) up front, so the library and the
server reject them the same way before any model call or write.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import InvalidInputError
from .ids import random_hex

Message = dict[str, Any]

ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})
MAX_SESSION_ID_LENGTH = 256
#: A stored message's ``id`` is indexed (PostgreSQL: a btree, whose rows hold ~2.7 kB), so
#: ids are bounded like session ids.
MAX_MESSAGE_ID_LENGTH = 256
MAX_MESSAGE_CHARS = 1_000_000
#: How deeply JSON a store keeps may nest: far more than any message needs, well below what
#: the JSON encoders take (pydantic's refuses about 255 levels: a session stored deeper could
#: never be served again).
MAX_JSON_DEPTH = 100
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_text(text: str, where: str) -> str:
    """Return ``text`` if every store and provider can carry it (no NUL, no lone surrogate).

    The error names ``where`` and the character's position, never the text itself (it may be
    large, private, or unprintable).
    """
    nul = text.find("\x00")
    if nul >= 0:
        raise InvalidInputError(
            f"{where} contains a NUL character (U+0000) at index {nul}; it cannot be stored"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{where} contains a lone surrogate (U+{ord(text[exc.start]):04X}) at index "
            f"{exc.start}; text must be valid Unicode"
        ) from None
    return text


#: Where a value sits: ``None`` for the root, else ``(parent trail, key or index)``.
Trail = tuple[Any, str | int] | None


def _path(where: str, trail: Trail) -> str:
    """``messages[0].content`` for a trail; built only for an error message."""
    steps: list[str | int] = []
    while trail is not None:
        trail, step = trail
        steps.append(step)
    path = where
    for step in reversed(steps):
        if isinstance(step, int):
            path += f"[{step}]"
        elif _PLAIN_KEY.fullmatch(step):
            path += f".{step}" if path else step
        else:
            path += f"[{step[:40]!r}]"
    return path or "the value"


def check_json(value: object, where: str = "") -> None:
    """Check that ``value`` is JSON every store keeps as is: dicts with string keys, lists,
    finite numbers, booleans, null and :func:`check_text` strings.

    ``where`` is the path of ``value``; errors extend it (``messages[0].content``). Iterative,
    so a deeply nested body is an error, not a ``RecursionError``; nesting past
    :data:`MAX_JSON_DEPTH` is refused too. Paths are only spelled out for the error, so a good
    body costs one pass.
    """
    pending: list[tuple[object, Trail, int]] = [(value, None, 0)]
    while pending:
        item, trail, depth = pending.pop()
        if isinstance(item, str):
            if _bad_text(item):
                check_text(item, _path(where, trail))
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidInputError(
                    f"{_path(where, trail)} is {item}; JSON numbers must be finite"
                )
        elif item is None or isinstance(item, int):  # bool is an int
            continue
        elif depth >= MAX_JSON_DEPTH and isinstance(item, (Mapping, list, tuple)):
            path = _path(where, trail)
            path = path if len(path) <= 80 else f"{path[:60]}..."
            raise InvalidInputError(f"{path} is nested more than {MAX_JSON_DEPTH} levels deep")
        elif isinstance(item, Mapping):
            children: list[tuple[object, Trail, int]] = []
            for key, child in item.items():
                if not isinstance(key, str):
                    raise InvalidInputError(
                        f"{_path(where, trail)} has a key of type {type(key).__name__}; "
                        "keys must be strings"
                    )
                if _bad_text(key):
                    check_text(key, f"a key of {_path(where, trail)}")
                children.append((child, (trail, key), depth + 1))
            pending.extend(reversed(children))  # popped in document order
        elif isinstance(item, (list, tuple)):
            pending.extend((item[i], (trail, i), depth + 1) for i in reversed(range(len(item))))
        else:
            raise InvalidInputError(
                f"{_path(where, trail)} is not JSON-serializable (a {type(item).__name__})"
            )


def _bad_text(text: str) -> bool:
    """Fast pre-check for :func:`check_text`: ASCII without NUL is always fine."""
    if text.isascii():
        return "\x00" in text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return "\x00" in text


#: Keys a stored message may carry for its clients (its stable ``id``, ``metadata`` such as
#: ``interrupted``); models never see them.
STORE_ONLY_KEYS = frozenset({"id", "metadata"})


def new_message_id() -> str:
    """A new stable id for a stored message."""
    return f"msg_{random_hex()}"


def for_model(message: Message) -> Message:
    """``message`` without the keys only its clients use (OpenAI rejects unknown keys): the
    message itself when it has none, else a copy without them."""
    if "id" not in message and "metadata" not in message:  # STORE_ONLY_KEYS, spelled out
        return message
    copy = message.copy()
    for key in STORE_ONLY_KEYS:
        copy.pop(key, None)
    return copy


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
    if session_id.isascii() and session_id.isprintable():
        return session_id  # no control character, NUL or surrogate: nothing more to check
    check_text(session_id, "session_id")
    for index, ch in enumerate(session_id):
        if ord(ch) < 32 or ord(ch) == 127:
            raise InvalidInputError(
                f"session_id must not contain control characters (U+{ord(ch):04X} at index {index})"
            )
    return session_id


def user_text(payload: object) -> str:
    """Extract the user's text from ``agent.run``'s first argument (``{'message': ...}`` or str)."""
    if isinstance(payload, str):
        text: object = payload
    elif isinstance(payload, Mapping):
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
    return check_text(text, "message")


def check_messages(messages: object) -> list[Message]:
    """Validate a list of chat messages (for ``set_session_context``); return plain dict copies.

    Each must be a mapping with a known ``role``; all of it must pass :func:`check_json` so
    that any store can keep it. The check happens before anything is written.
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
        _check_tool_fields(message, f"messages[{index}]")
        if isinstance(message.get("id"), str):
            check_message_id(message["id"], f"messages[{index}].id")
        copy = dict(message)
        check_json(copy, f"messages[{index}]")
        checked.append(copy)
    return checked


def check_message_id(message_id: str, where: str = "id") -> str:
    """Return ``message_id`` if a store can index it: at most :data:`MAX_MESSAGE_ID_LENGTH`
    characters (a longer one is the caller's error, not an outage of the database whose index
    refuses it)."""
    if len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise InvalidInputError(
            f"{where} is {len(message_id)} characters long; the limit is {MAX_MESSAGE_ID_LENGTH}"
        )
    return message_id


def _check_tool_fields(message: Mapping[str, Any], where: str) -> None:
    """The tool fields in the chat completions shape, so every model accepts them back."""
    if message.get("role") == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise InvalidInputError(f"{where} has role 'tool' but no string 'tool_call_id'")
    if "tool_calls" not in message:
        return
    calls = message["tool_calls"]
    if message.get("role") != "assistant" or not isinstance(calls, list):
        raise InvalidInputError(f"{where}.tool_calls must be a list on an assistant message")
    for number, call in enumerate(calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        if (
            not isinstance(call.get("id") if isinstance(call, Mapping) else None, str)
            or not isinstance(function, Mapping)
            or not isinstance(function.get("name"), str)
            or not isinstance(function.get("arguments", ""), str)
        ):
            raise InvalidInputError(
                f"{where}.tool_calls[{number}] must be {{'id': str, 'type': 'function', "
                "'function': {'name': str, 'arguments': str (JSON)}}"
            )


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
