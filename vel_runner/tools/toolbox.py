"""An agent's tools: the sources behind them, found by name, and how a step's calls run.

Every failure of a call (unknown tool, arguments that are not JSON or fail the schema, an
exception, a timeout, even ``sys.exit`` or ``KeyboardInterrupt`` raised by the tool) becomes an
error result the model reads; only our own cancellation propagates, and it cancels every call
still running. Results are cut to the tool's (else the agent's) ``max_result_chars`` and error
texts have their secrets hidden (:mod:`.outcomes`). Calls of one step run concurrently (at most
``concurrency`` at a time) when ``parallel`` is on; results come back in the model's order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import InvalidInputError
from .agent_tool import AgentTool
from .base import (
    ToolCall,
    ToolCallError,
    ToolDefinitionError,
    ToolResult,
    ToolSource,
    ToolSpec,
    parse_arguments,
)
from .outcomes import DEFAULT_MAX_RESULT_CHARS, check_limit, describe, failure, success
from .python import FunctionTool

log = logging.getLogger("vel_runner.tools")

#: The ``tool`` label of metrics for a call of a tool the agent does not have: names the
#: model made up must not each become a time series.
UNKNOWN_TOOL = "_unknown"


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


class ToolTally:
    """How many calls an agent made, and how many ended in an error result."""

    __slots__ = ("calls", "errors")

    def __init__(self) -> None:
        self.calls = 0
        self.errors = 0


class Toolbox:
    """The tools of one agent, by name."""

    def __init__(
        self,
        tools: Iterable[Any] = (),
        *,
        parallel: bool = True,
        concurrency: int = 4,
        max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ToolDefinitionError(
                f"tool_concurrency must be a positive integer, got {concurrency!r}"
            )
        self.parallel = bool(parallel)
        self.concurrency = concurrency
        #: Characters of a result the model reads, for tools that do not set their own.
        self.max_result_chars = check_limit(max_result_chars)
        self.sources = [as_source(tool) for tool in tools]
        self._by_name: dict[str, tuple[ToolSource, ToolSpec]] = {}
        self._openai: list[dict[str, Any]] = []
        self._versions: tuple[int, ...] | None = None
        self._index(strict=True)
        #: Calls run and how many ended in an error result (for the dashboard); a reload
        #: hands it to the agent's next version, so the counts survive it.
        self.tally = ToolTally()

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
        self.tally.calls += 1
        self.tally.errors += result.error is not None
        return result

    def metric_name(self, name: str) -> str:
        """``name`` as a metric label: the tool's name if the agent has it, else
        :data:`UNKNOWN_TOOL` (a model can write any name; labels come from the config)."""
        return name if self.owns(name) else UNKNOWN_TOOL

    def stuck_calls(self) -> dict[str, int]:
        """Calls of this agent's tools still running past their timeout, per tool."""
        stuck: dict[str, int] = {}
        for source in self.sources:
            stuck.update(getattr(source, "stuck_calls", None) or {})
        return stuck

    async def _call(self, call: ToolCall) -> ToolResult:
        self._index()
        limit = self.max_result_chars
        found = self._by_name.get(call.name)
        if found is None:
            down = "; ".join(self.unavailable())  # its server may be down: say so
            text = f"unknown tool {call.name!r}; tools: {self.names}"
            return failure(call, f"{text} ({down})" if down else text, limit)
        source, spec = found
        limit = getattr(source, "max_result_chars", None) or limit
        try:
            arguments = parse_arguments(call.arguments)
        except ValueError as exc:
            return failure(call, f"arguments of {call.name} are not valid JSON: {exc}", limit)
        if not isinstance(arguments, dict):
            return failure(call, f"arguments of {call.name} must be a JSON object", limit)
        try:
            async with asyncio.timeout(spec.timeout):
                value = await source.call_tool(call.name, arguments)
            return success(call, value, limit)
        except TimeoutError:
            return failure(call, f"{call.name} did not finish within {spec.timeout:g}s", limit)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the run is being cancelled: stop
            return failure(call, f"{call.name} was cancelled", limit)  # it cancelled itself
        except (ToolCallError, InvalidInputError) as exc:
            return failure(call, str(exc), limit)
        except BaseException as exc:  # sys.exit() and KeyboardInterrupt in a tool included:
            return failure(call, describe(exc), limit, logged=True)  # they are not ours to obey

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
