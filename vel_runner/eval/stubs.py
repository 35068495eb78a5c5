"""``stub_tools:``: tools that return a fixed result in a case instead of touching the world.

A stubbed tool is still offered to the model exactly as declared (same name, description
and schema), so the requests, and a cassette recorded with or without the stub, are the same;
only its call returns the case's value. The case runs on a copy of its agent whose tool
sources are wrapped; the copy shares the agent's provider and session store, and other cases
(running at the same time) keep the real tools.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from ..agent import Agent
from ..config.build import make_context_manager
from ..tools.base import ToolSource, ToolSpec


class StubbedSource:
    """``inner`` with the tools named in ``stubs`` answering their stub."""

    def __init__(self, inner: ToolSource, stubs: Mapping[str, Any]) -> None:
        self.inner = inner
        self.stubs = dict(stubs)

    def __repr__(self) -> str:
        return f"StubbedSource({self.inner!r}, stubs={sorted(self.stubs)})"

    def __getattr__(self, name: str) -> Any:
        # what a source may also have (an MCP server's tools_version, unavailable())
        if name == "inner":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def list_tools(self) -> Sequence[ToolSpec]:
        return self.inner.list_tools()

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> Any:
        if name in self.stubs:
            return copy.deepcopy(self.stubs[name])
        return await self.inner.call_tool(name, arguments)


def stubbed_agent(agent: Agent, context: Mapping[str, Any], stubs: Mapping[str, Any]) -> Agent:
    """A copy of ``agent`` (its ``context:`` declaration given) whose ``stubs`` tools answer
    their stub. Close it with ``aclose()``: that closes nothing it shares."""
    return Agent(
        agent.id,
        model={"provider": agent.provider_name, "model": agent.model_name},
        session_storage=agent.store,
        context_manager=make_context_manager(context),
        instructions=agent.instructions,
        generation=agent.generation,
        ttl=agent.ttl,
        provider=agent.provider,
        tools=[StubbedSource(source, stubs) for source in agent.toolbox.sources],
        max_steps=agent.max_steps,
        parallel_tool_calls=agent.toolbox.parallel,
        tool_concurrency=agent.toolbox.concurrency,
    )


__all__ = ["StubbedSource", "stubbed_agent"]
