"""Another agent as a tool: the model writes a request, the agent answers it in a fresh,
stateless run (no session: each call stands alone), and its answer is the tool's result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from .base import DEFAULT_TIMEOUT, ToolCallError, ToolSpec
from .outcomes import check_limit


class Runnable(Protocol):
    """What an agent tool needs of an agent."""

    id: str

    async def run(self, input: Mapping[str, Any] | str, session_id: str | None = None) -> str:
        """One turn's answer."""
        ...


class AgentTool:
    """A tool source with one tool that runs ``agent``."""

    def __init__(
        self,
        agent: Runnable,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_result_chars: int | None = None,
    ) -> None:
        self.agent = agent
        #: This tool's cap on an answer (``None``: the calling agent's).
        self.max_result_chars = None if max_result_chars is None else check_limit(max_result_chars)
        tool_name = name or agent.id.replace("-", "_").replace(".", "_")
        self.spec = ToolSpec(
            name=tool_name,
            description=description or f"Ask the {agent.id} agent; it answers in text.",
            parameters={
                "type": "object",
                "properties": {
                    "input": {"type": "string", "description": f"The request for {agent.id}."}
                },
                "required": ["input"],
                "additionalProperties": False,
            },
            timeout=float(timeout),
        )

    def __repr__(self) -> str:
        return f"AgentTool({self.agent.id!r})"

    def list_tools(self) -> Sequence[ToolSpec]:
        return (self.spec,)

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> Any:
        text = arguments.get("input") if isinstance(arguments, Mapping) else None
        if not isinstance(text, str) or not text.strip():
            raise ToolCallError(
                f"{name} needs {{'input': '<non-empty text>'}}, got {arguments!r:.200}"
            )
        return await self.agent.run({"message": text})
