"""An agent's tools: the sources behind them, found by name, and how a step's calls run.

Every failure of a call (unknown tool, arguments that are not JSON or fail the schema, an
exception, a timeout) becomes an error result the model reads; only cancellation propagates,
and it cancels every call still running. Calls of one step run concurrently (at most
``concurrency`` at a time) when ``parallel`` is on; results come back in the model's order.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import InvalidInputError
from ..messages import check_text
from .agent_tool import AgentTool
from .base import (
    ToolCall,
    ToolCallError,
    ToolDefinitionError,
    ToolResult,
    ToolSource,
    ToolSpec,
    error_result,
    to_content,
)
from .python import FunctionTool

log = logging.getLogger("vel_runner.tools")


def as_source(tool: Any) -> ToolSource:
    """``tool`` as a tool source: a source as it is, an agent as an :class:`AgentTool`, a
    function as a :class:`FunctionTool`."""
    if isinstance(tool, ToolSource):
        return tool
    if hasattr(tool, "run") and isinstance(getattr(tool, "id", None), str):
        return AgentTool(tool)
    if callable(tool):
        return FunctionTool(tool)
    raise ToolDefinitionError(
        f"a tool must be a function, an Agent or a tool source, got {type(tool).__name__}"
    )


class Toolbox:
    """The tools of one agent, by name."""

    def __init__(
        self, tools: Iterable[Any] = (), *, parallel: bool = True, concurrency: int = 4
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ToolDefinitionError(
                f"tool_concurrency must be a positive integer, got {concurrency!r}"
            )
        self.parallel = bool(parallel)
        self.concurrency = concurrency
        self.sources = [as_source(tool) for tool in tools]
        self._by_name: dict[str, tuple[ToolSource, ToolSpec]] = {}
        self._openai: list[dict[str, Any]] = []
        self._versions: tuple[int, ...] | None = None
        self._index(strict=True)
        #: Calls run, and how many of them ended in an error result (for the dashboard).
        self.calls = 0
        self.errors = 0

    def _index(self, *, strict: bool = False) -> None:
        """(Re)build the name index when a source's tool list changed (MCP servers bump
        ``tools_version``). At build time a clash is an error; later the first source wins."""
        versions = tuple(getattr(source, "tools_version", 0) for source in self.sources)
        if versions == self._versions:
            return
        by_name: dict[str, tuple[ToolSource, ToolSpec]] = {}
        for source in self.sources:
            for spec in source.list_tools():
                if spec.name not in by_name:
                    by_name[spec.name] = (source, spec)
                elif strict:
                    raise ToolDefinitionError(
                        f"two tools are named {spec.name!r}; give one another name"
                    )
                else:
                    log.warning("two tools are named %r; %r is left out", spec.name, source)
        self._by_name, self._versions = by_name, versions
        self._openai = [spec.openai() for _, spec in by_name.values()]

    def unavailable(self) -> list[str]:
        """Why some sources cannot serve now (an MCP server that is down), for a clear error."""
        reasons = (getattr(source, "unavailable", lambda: None)() for source in self.sources)
        return [reason for reason in reasons if reason]

    @property
    def dynamic(self) -> bool:
        """Does some source's tool list change at run time (an MCP server)?"""
        return any(hasattr(source, "tools_version") for source in self.sources)

    def __bool__(self) -> bool:
        self._index()
        return bool(self._by_name) or self.dynamic

    def __len__(self) -> int:
        self._index()
        return len(self._by_name)

    @property
    def names(self) -> list[str]:
        self._index()
        return list(self._by_name)

    def specs(self) -> list[ToolSpec]:
        self._index()
        return [spec for _, spec in self._by_name.values()]

    def openai_tools(self) -> list[dict[str, Any]]:
        """The ``tools`` of a chat completions request (a fresh list)."""
        self._index()
        return list(self._openai)

    def owns(self, name: str) -> bool:
        self._index()
        return name in self._by_name

    async def call(self, call: ToolCall) -> ToolResult:
        """Run one call; every failure except cancellation is an error result."""
        result = await self._call(call)
        self.calls += 1
        self.errors += result.error is not None
        return result

    async def _call(self, call: ToolCall) -> ToolResult:
        self._index()
        found = self._by_name.get(call.name)
        if found is None:
            down = "; ".join(self.unavailable())  # its server may be down: say so
            text = f"unknown tool {call.name!r}; tools: {self.names}"
            return error_result(call, f"{text} ({down})" if down else text)
        source, spec = found
        try:
            arguments = json.loads(call.arguments) if call.arguments.strip() else {}
        except ValueError as exc:
            return error_result(call, f"arguments of {call.name} are not valid JSON: {exc}")
        if not isinstance(arguments, dict):
            return error_result(call, f"arguments of {call.name} must be a JSON object")
        try:
            async with asyncio.timeout(spec.timeout):
                value = await source.call_tool(call.name, arguments)
            content = check_text(to_content(value), f"the result of {call.name}")
            output = value if isinstance(value, str) else json.loads(content)
            return ToolResult(call, content, output=output)
        except TimeoutError:
            return error_result(call, f"{call.name} did not finish within {spec.timeout:g}s")
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the run is being cancelled: stop
            return error_result(call, f"{call.name} was cancelled")  # it cancelled itself
        except (ToolCallError, InvalidInputError) as exc:
            return error_result(call, str(exc))
        except Exception as exc:
            log.info("tool %s failed: %s: %s", call.name, type(exc).__name__, exc)
            return error_result(call, f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc))

    async def run_all(
        self, calls: Sequence[ToolCall], on_result: Callable[[ToolResult], None] | None = None
    ) -> list[ToolResult]:
        """Run a step's calls (concurrently when ``parallel``), results in the calls' order.

        ``on_result`` sees each result as it arrives (for the stream). Cancelling this
        cancels every call still running.
        """
        if not self.parallel or len(calls) == 1:
            results = []
            for call in calls:
                results.append(await self.call(call))
                if on_result is not None:
                    on_result(results[-1])
            return results
        gate = asyncio.Semaphore(self.concurrency)

        async def one(call: ToolCall) -> ToolResult:
            async with gate:
                result = await self.call(call)
            if on_result is not None:
                on_result(result)
            return result

        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(call)) for call in calls]
        return [task.result() for task in tasks]
