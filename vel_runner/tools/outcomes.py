"""What the model reads of a call's outcome, from every tool source (python, agent, MCP).

- Size: a result (or an error) longer than the tool's cap is cut, and says so with its
  original size, so the model knows it saw a part. A 5 MB file read whole would go to the
  model and into the session, and be sent again with every later turn.
- Secrets: an error's text is :func:`~vel_runner.redact.redact`-ed before it goes anywhere
  (the model, the stream's ``errorText``, the session, the logs): exceptions quote DSNs and
  keys (``cannot reach postgresql://admin:pw@db``).
- JSON: a value is strict JSON (:func:`~vel_runner.tools.base.to_content`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..errors import InvalidInputError
from ..messages import check_text
from ..redact import redact
from .base import ToolCall, ToolResult, error_result, to_content

log = logging.getLogger("vel_runner.tools")

#: Characters of a result the model reads when neither the tool nor the agent says.
DEFAULT_MAX_RESULT_CHARS = 100_000


def check_limit(value: Any, what: str = "max_result_chars") -> int:
    """``value`` if it is a positive integer (a cap in characters), else a clear error."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{what} must be a positive integer, got {value!r}")
    return value


def cut(text: str, limit: int) -> str:
    """``text``, or its first ``limit`` characters and a line saying how long it was."""
    if len(text) <= limit:
        return text
    return (
        f"{text[:limit]}\n[cut by vel-runner: the result has {len(text):,} characters; "
        f"only the first {limit:,} are shown]"
    )


def success(call: ToolCall, value: Any, limit: int) -> ToolResult:
    """The result of a call that returned ``value``: JSON text, cut to ``limit``."""
    content = check_text(to_content(value), f"the result of {call.name}")
    shown = cut(content, limit)
    if shown is not content:  # the stream shows what the model reads, not the whole value
        return ToolResult(call, shown, output=shown)
    output = value if isinstance(value, str) else json.loads(content)
    return ToolResult(call, content, output=output)


def failure(call: ToolCall, text: str, limit: int, *, logged: bool = False) -> ToolResult:
    """An error result: ``text`` with its secrets hidden, cut to ``limit``; ``logged``
    also writes it to the log (an unexpected exception, rather than a refusal)."""
    text = cut(redact(text), limit)
    if logged:
        log.info("tool %s failed: %s", call.name, text)
    return error_result(call, text)


def describe(exc: BaseException) -> str:
    """An exception a tool raised, as the model reads it."""
    if isinstance(exc, (SystemExit, KeyboardInterrupt, GeneratorExit)):
        return (
            f"{type(exc).__name__}({exc}): the tool tried to stop the process; "
            "its call failed instead"
        )
    return f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc)


__all__ = ["DEFAULT_MAX_RESULT_CHARS", "check_limit", "cut", "describe", "failure", "success"]
