"""The tool protocol: a source lists tools and calls them by name.

Python functions, other agents and (later) MCP servers are all tool sources, so the loop
never cares where a tool comes from. A call's outcome is a :class:`ToolResult`: the text the
model receives, and an error text when the call failed (the model then sees
``{"error": "..."}`` and can recover; the run goes on).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import InvalidInputError

#: Seconds a tool call may take before it becomes an error result.
DEFAULT_TIMEOUT = 30.0
#: Threads per sync tool: its calls that may run at once (more wait for one to finish).
DEFAULT_THREADS = 8


class ToolDefinitionError(InvalidInputError):
    """A tool that cannot be offered to a model: no type hint, a schema strict mode refuses...

    ``part`` names the declaration key at fault (``function`` or ``bind``), for config errors.
    """

    def __init__(self, message: str, *, part: str = "function") -> None:
        super().__init__(message)
        self.part = part


class ToolCallError(Exception):
    """Raised by a tool source when a call fails in a way the model should be told about."""


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """What the model is told about a tool: its name, description and JSON Schema."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    timeout: float = DEFAULT_TIMEOUT
    strict: bool = True

    def openai(self) -> dict[str, Any]:
        """The tool in the chat completions ``tools`` format."""
        function: dict[str, Any] = {"name": self.name, "parameters": dict(self.parameters)}
        if self.description:
            function["description"] = self.description
        if self.strict:
            function["strict"] = True
        return {"type": "function", "function": function}


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the model asked for; ``arguments`` is the JSON text the model wrote."""

    id: str
    name: str
    arguments: str

    def message_part(self) -> dict[str, Any]:
        """The call as it appears in an assistant message's ``tool_calls``."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }

    def parsed_input(self) -> Any:
        """The arguments as JSON (the raw text when the model wrote invalid JSON); ``NaN``
        and ``Infinity``, which JSON does not have, are read as ``null``."""
        try:
            return parse_arguments(self.arguments)
        except ValueError:
            return self.arguments


def _null(constant: str) -> None:
    return None


def parse_arguments(text: str) -> Any:
    """Arguments the model wrote, as JSON (``{}`` when empty). ``NaN``, ``Infinity`` and
    ``-Infinity`` (Python's and some models' extension) are read as ``null``, as the wire
    can carry them: every JSON that leaves the server stays strict JSON."""
    return json.loads(text, parse_constant=_null) if text.strip() else {}


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of one call: ``content`` goes to the model; ``error`` is set on failure."""

    call: ToolCall
    content: str
    error: str | None = None
    output: Any = field(default=None, compare=False)

    def message(self) -> dict[str, Any]:
        """The ``tool`` message the model receives."""
        return {"role": "tool", "tool_call_id": self.call.id, "content": self.content}


def error_result(call: ToolCall, text: str) -> ToolResult:
    """A failed call: the model sees ``{"error": text}``."""
    return ToolResult(call, json.dumps({"error": text}), error=text, output={"error": text})


def to_content(value: Any) -> str:
    """A tool's return value as the text the model reads: str as is, anything else as strict
    JSON (``NaN`` and infinities become ``null``, as ``JSON.stringify`` makes them)."""
    if isinstance(value, str):
        return value
    from pydantic_core import to_jsonable_python

    return json.dumps(to_jsonable_python(value, inf_nan_mode="null"), ensure_ascii=False)


@runtime_checkable
class ToolSource(Protocol):
    """Something that offers tools: list them, call one by name with parsed arguments."""

    def list_tools(self) -> Sequence[ToolSpec]:
        """The tools this source offers (names unique within the source)."""
        ...

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Run tool ``name``; the return value is sent to the model as JSON (str as is).

        Raise :class:`ToolCallError` (or any exception) for a failure the model should see.
        """
        ...
