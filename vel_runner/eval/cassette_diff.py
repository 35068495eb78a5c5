"""What changed between a recorded request and a new one, in words a person acts on.

A cassette miss names the differences from the nearest recorded request of the case: the
model, the instructions (the leading system messages), tools added, removed or changed, other
settings, and the first message that differs. :func:`distance` ranks recorded requests so the
nearest is the one with the fewest differences.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

#: How much of a differing text a message quotes around the first difference.
EXCERPT = 40


def _instructions(messages: Sequence[Mapping[str, Any]]) -> list[Any]:
    found = []
    for message in messages:
        if message.get("role") not in ("system", "developer"):
            break
        found.append(message.get("content"))
    return found


def _tools(settings: Mapping[str, Any]) -> dict[str, Any]:
    return {
        str((tool.get("function") or {}).get("name", tool.get("name", "?"))): tool
        for tool in settings.get("tools") or ()
        if isinstance(tool, Mapping)
    }


def _excerpt(old: Any, new: Any) -> str:
    """``'...the old text...' -> '...the new text...'`` around the first difference."""
    a = old if isinstance(old, str) else json.dumps(old, ensure_ascii=False)
    b = new if isinstance(new, str) else json.dumps(new, ensure_ascii=False)
    start = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    begin = max(0, start - EXCERPT // 2)

    def cut(text: str) -> str:
        piece = text[begin : begin + EXCERPT]
        return ("..." if begin else "") + piece + ("..." if begin + EXCERPT < len(text) else "")

    return f"{cut(a)!r} -> {cut(b)!r}"


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs from the recorded request ``old`` to ``new`` (empty: nothing)."""
    found: list[str] = []
    if old.get("model") != new.get("model"):
        found.append(f"the model changed: {old.get('model')!r} -> {new.get('model')!r}")
    old_messages, new_messages = old.get("messages") or [], new.get("messages") or []
    old_rules, new_rules = _instructions(old_messages), _instructions(new_messages)
    if old_rules != new_rules:
        if not old_rules or not new_rules:
            found.append("instructions " + ("added" if new_rules else "removed"))
        else:
            was, now = "\n\n".join(map(str, old_rules)), "\n\n".join(map(str, new_rules))
            found.append(f"the instructions were edited: {_excerpt(was, now)}")
    old_settings, new_settings = old.get("settings") or {}, new.get("settings") or {}
    found.extend(_tool_differences(_tools(old_settings), _tools(new_settings)))
    for key in sorted((set(old_settings) | set(new_settings)) - {"tools"}):
        if old_settings.get(key) != new_settings.get(key):
            was, now = old_settings.get(key, "(unset)"), new_settings.get(key, "(unset)")
            found.append(f"setting {key!r} changed: {was!r} -> {now!r}")
    found.extend(
        _message_differences(
            old_messages[len(old_rules) :], new_messages[len(new_rules) :], len(new_rules)
        )
    )
    return found


def _tool_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    found = [f"tool {name!r} added" for name in new if name not in old]
    found += [f"tool {name!r} removed" for name in old if name not in new]
    for name in new:
        if name in old and old[name] != new[name]:
            was, now = old[name].get("function", old[name]), new[name].get("function", new[name])
            parts = sorted(k for k in set(was) | set(now) if was.get(k) != now.get(k))
            found.append(f"tool {name!r} changed (its {', '.join(parts)})")
    return found


def _message_differences(
    old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]], offset: int
) -> list[str]:
    """The first message (after the instructions) that differs, or a count that does."""
    for index, (was, now) in enumerate(zip(old, new, strict=False), start=offset):
        if was == now:
            continue
        role = now.get("role", "?")
        if was.get("role") != role:
            return [f"message {index} is a {role} message; the recording has {was.get('role')}"]
        if was.get("content") != now.get("content"):
            excerpt = _excerpt(was.get("content"), now.get("content"))
        else:  # the same text, other fields (tool calls, a tool result's call id)
            excerpt = _excerpt(dict(was), dict(now))
        return [f"message {index} ({role}) differs: {excerpt}"]
    if len(old) != len(new):
        return [f"the request has {len(new) + offset} messages, the recording {len(old) + offset}"]
    return []


def distance(old: Mapping[str, Any], new: Mapping[str, Any]) -> int:
    """How unlike two requests are: the differences, each differing message counted."""
    count = len(differences(old, new))
    old_messages, new_messages = old.get("messages") or [], new.get("messages") or []
    count += sum(a != b for a, b in zip(old_messages, new_messages, strict=False))
    return count + abs(len(old_messages) - len(new_messages))


__all__ = ["differences", "distance"]
