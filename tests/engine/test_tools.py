"""Tools: schemas from type hints and docstrings, the tool loop (errors, timeouts, bad
arguments, max_steps, parallel calls, cancellation), agents as tools — offline, on echo."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Annotated, Any

import pytest
from helpers.waiting import loop_passes, wait_until
from pydantic import BaseModel, Field

from vel_runner import Agent
from vel_runner.providers.base import Chunk, Completion, ToolCallDelta, Usage
from vel_runner.tools import FunctionTool, Toolbox, ToolCall, ToolDefinitionError

ECHO = {"provider": "echo", "model": "echo-1"}


async def get_weather(city: str, unit: str = "C") -> dict[str, Any]:
    """Current weather of a city.

    Args:
        city: The city, e.g. Paris.
        unit: C or F.
    """
    return {"city": city, "temp": 21, "unit": unit}


def add(a: int, b: Annotated[int, Field(description="the second number")]) -> int:
    """Add two numbers."""
    return a + b


def fails(reason: str) -> str:
    """Always raises."""
    raise RuntimeError(reason)


async def sleeper(seconds: float) -> str:
    """Sleeps."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


class Point(BaseModel):
    x: int
    y: int


def norm(point: Point) -> float:
    """Length of a vector."""
    return (point.x**2 + point.y**2) ** 0.5


# -- schemas -------------------------------------------------------------------------------
def test_schema_comes_from_type_hints_and_docstring() -> None:
    spec = FunctionTool(get_weather).spec
    assert spec.name == "get_weather"
    assert spec.description == "Current weather of a city."
    params = spec.parameters
    assert params["type"] == "object" and params["additionalProperties"] is False
    assert params["required"] == ["city", "unit"]  # strict mode: all required
    city = params["properties"]["city"]
    assert city == {"type": "string", "description": "The city, e.g. Paris."}
    # a parameter with a default is nullable: null means "use the default"
    assert params["properties"]["unit"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert spec.openai()["function"]["strict"] is True


def test_annotated_field_description_and_nested_models() -> None:
    assert FunctionTool(add).spec.parameters["properties"]["b"]["description"] == (
        "the second number"
    )
    params = FunctionTool(norm).spec.parameters
    point = params["$defs"]["Point"]
    assert point["additionalProperties"] is False and point["required"] == ["x", "y"]


@pytest.mark.parametrize(
    ("func", "needle"),
    [
        (lambda city: city, "has no type hint"),
        (lambda **kw: kw, r"takes \*kw"),
    ],
)
def test_definition_errors_name_the_problem(func: Any, needle: str) -> None:
    with pytest.raises(ToolDefinitionError, match=needle):
        FunctionTool(func)


def test_strict_mode_refusals_are_definition_errors() -> None:
    def free(options: dict[str, int]) -> None:
        """A free-form dict."""

    def anything(value: Any) -> None:
        """Anything."""

    def pair(value: tuple[int, int]) -> None:
        """A tuple."""

    with pytest.raises(ToolDefinitionError, match="options: a free-form object"):
        FunctionTool(free)
    with pytest.raises(ToolDefinitionError, match="value: a value of any type"):
        FunctionTool(anything)
    with pytest.raises(ToolDefinitionError, match="prefixItems"):
        FunctionTool(pair)


def test_bind_hides_parameters_from_the_model() -> None:
    def fetch(city: str, api_base: str) -> str:
        return f"{api_base}/{city}"

    tool = FunctionTool(fetch, bind={"api_base": "http://x"})
    assert list(tool.spec.parameters["properties"]) == ["city"]
    assert asyncio.run(tool.call_tool("fetch", {"city": "Oslo"})) == "http://x/Oslo"
    with pytest.raises(ToolDefinitionError, match="not parameters"):
        FunctionTool(fetch, bind={"nope": 1})


def test_duplicate_tool_names_are_refused() -> None:
    with pytest.raises(ToolDefinitionError, match="two tools are named 'add'"):
        Toolbox([add, add])


# -- the loop on echo ------------------------------------------------------------------------
async def test_echo_calls_a_tool_and_the_turn_stores_every_message() -> None:
    agent = Agent("a", model=ECHO, tools=[get_weather])
    answer = await agent.run('/tool get_weather {"city": "Paris"}', session_id="s")
    assert answer == 'echo (3 messages): get_weather -> {"city": "Paris", "temp": 21, "unit": "C"}'
    stored = await agent.ctxmgr.aget_session_context("s")
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "assistant"]
    call = stored[1]["tool_calls"][0]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert stored[2]["tool_call_id"] == call["id"]


async def test_errors_timeouts_and_bad_arguments_are_results_the_model_reads() -> None:
    agent = Agent(
        "a",
        model=ECHO,
        tools=[fails, FunctionTool(sleeper, timeout=0.05), add],
    )
    prompt = "\n".join(
        [
            '/tool fails {"reason": "disk full"}',
            '/tool sleeper {"seconds": 5}',
            '/tool add {"a": "one", "b": 2}',
            "/tool add {not json",
            '/tool nosuch {"a": 1}',
        ]
    )
    started = time.perf_counter()
    answer = await agent.run(prompt, session_id="s")
    assert time.perf_counter() - started < 2
    stored = await agent.ctxmgr.aget_session_context("s")
    errors = [json.loads(m["content"])["error"] for m in stored if m["role"] == "tool"]
    assert errors[0] == "RuntimeError: disk full"
    assert errors[1] == "sleeper did not finish within 0.05s"
    assert errors[2].startswith("invalid arguments for add: a: Input should be a valid integer")
    assert errors[3].startswith("arguments of add are not valid JSON")
    assert errors[4].startswith("unknown tool 'nosuch'")
    assert answer.startswith("echo (7 messages): fails -> ")


async def test_stream_says_which_calls_failed() -> None:
    agent = Agent("a", model=ECHO, tools=[fails, add])
    chunks = [
        e async for e in agent.run_stream('/tool add {"a": 1, "b": 2}\n/tool fails {"reason": "x"}')
    ]
    kinds = [e["type"] for e in chunks]
    assert kinds[:2] == ["start", "start-step"]
    assert kinds.count("start-step") == kinds.count("finish-step") == 2
    available = [e for e in chunks if e["type"] == "tool-input-available"]
    # the calls run at once: outputs come as they finish, found by their call's id
    outputs = {e["toolCallId"]: e for e in chunks if e["type"].startswith("tool-output")}
    added, failed = (outputs[e["toolCallId"]] for e in available)
    assert added["type"] == "tool-output-available" and added["output"] == 3
    assert failed == {
        "type": "tool-output-error",
        "toolCallId": available[1]["toolCallId"],
        "errorText": "RuntimeError: x",
        "dynamic": True,
    }
    assert available[0]["input"] == {"a": 1, "b": 2} and available[0]["dynamic"] is True
    deltas = "".join(
        e["inputTextDelta"]
        for e in chunks
        if e["type"] == "tool-input-delta" and e["toolCallId"] == available[0]["toolCallId"]
    )
    assert deltas == '{"a": 1, "b": 2}'
    # a new step after the tools: start-step comes right after the tool step's finish-step
    second = kinds.index("finish-step")
    assert kinds[second + 1] == "start-step"
    assert kinds[-2:] == ["finish-step", "finish"]


async def test_parallel_calls_run_concurrently_and_results_keep_the_models_order() -> None:
    """Each call waits until all three have started (one after the other, the first would
    wait forever), and they finish in another order than the model's: 2, 3, 1."""
    all_started = asyncio.Barrier(3)
    finished: list[int] = []

    async def step(n: int) -> str:
        """Waits for the others, then for the call before it in the finishing order."""
        await asyncio.wait_for(all_started.wait(), 10)
        await wait_until(lambda: finished == {2: [], 3: [2], 1: [2, 3]}[n], what=f"turn of {n}")
        finished.append(n)
        return f"step {n}"

    agent = Agent("a", model=ECHO, tools=[step])
    await agent.run("\n".join(f'/tool step {{"n": {n}}}' for n in (1, 2, 3)), session_id="s")
    assert finished == [2, 3, 1]
    stored = await agent.ctxmgr.aget_session_context("s")
    assert [m["content"] for m in stored if m["role"] == "tool"] == ["step 1", "step 2", "step 3"]


async def test_concurrency_bound_and_sequential_mode() -> None:
    running: list[int] = []
    peaks: list[int] = []

    async def busy(n: int) -> str:
        """Counts the calls running with it, and yields so that the others can start."""
        running.append(n)
        peaks.append(len(running))
        await loop_passes(5)
        running.remove(n)
        return f"done {n}"

    prompt = "\n".join(f'/tool busy {{"n": {n}}}' for n in range(4))
    await Agent("b", model=ECHO, tools=[busy], tool_concurrency=2).run(prompt)
    assert max(peaks) == 2  # two at a time, never more
    peaks.clear()
    await Agent("c", model=ECHO, tools=[busy], parallel_tool_calls=False).run(prompt)
    assert max(peaks) == 1 and len(peaks) == 4  # one after the other


class LoopingProvider:
    """Calls tool ``add`` at every step unless ``tool_choice`` is ``none``."""

    type = "looping"

    def __init__(self) -> None:
        self.settings: list[Mapping[str, Any]] = []

    async def complete(
        self, messages: Sequence[dict[str, Any]], *, model: str, settings: Mapping[str, Any]
    ) -> Completion:
        self.settings.append(settings)
        if settings.get("tool_choice") == "none":
            return Completion("gave up", Usage(1, 1))
        call = ToolCall(f"c{len(messages)}", "add", '{"a": 1, "b": 1}')
        return Completion("", Usage(1, 1), (call,))

    async def stream(
        self, messages: Sequence[dict[str, Any]], *, model: str, settings: Mapping[str, Any]
    ) -> AsyncIterator[Chunk]:
        completion = await self.complete(messages, model=model, settings=settings)
        if completion.text:
            yield Chunk(completion.text)
        for call in completion.tool_calls:
            yield Chunk(tool_call=ToolCallDelta(call.id, call.name, call.arguments))
        yield Chunk(usage=completion.usage)

    async def aclose(self) -> None:
        return None


async def test_max_steps_ends_with_a_call_without_tools() -> None:
    provider = LoopingProvider()
    agent = Agent("a", model=ECHO, tools=[add], max_steps=3, provider=provider)
    result = await agent.run_turn("go", session_id="s")
    assert result.output == "gave up"
    assert len(provider.settings) == 3
    assert [s.get("tool_choice") for s in provider.settings] == [None, None, "none"]
    assert result.usage == Usage(3, 3)
    roles = [m["role"] for m in await agent.ctxmgr.aget_session_context("s")]
    assert roles == ["user", "assistant", "tool", "assistant", "tool", "assistant"]


async def test_cancellation_mid_tool_cancels_it_and_stores_nothing() -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow(seconds: float) -> str:
        started.set()
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "done"

    agent = Agent("a", model=ECHO, tools=[slow])
    task = asyncio.create_task(agent.run('/tool slow {"seconds": 30}', session_id="s"))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()
    assert await agent.ctxmgr.aget_session_context("s") == []


async def test_an_agent_as_a_tool() -> None:
    researcher = Agent("researcher", model=ECHO)
    boss = Agent("boss", model=ECHO, tools=[researcher])
    assert boss.toolbox.names == ["researcher"]
    answer = await boss.run('/tool researcher {"input": "find sources"}', session_id="s")
    assert answer == "echo (3 messages): researcher -> echo (1 messages): find sources"
    bad = await boss.run('/tool researcher {"input": ""}')
    assert "needs {'input'" in bad


async def test_a_sync_tool_runs_in_a_worker_thread() -> None:
    import threading

    seen: list[str] = []

    def where() -> str:
        seen.append(threading.current_thread().name)
        return "ok"

    agent = Agent("a", model=ECHO, tools=[where])
    await agent.run("/tool where {}")
    assert seen and seen[0] != threading.main_thread().name


async def test_agents_without_tools_send_no_tools() -> None:
    provider = LoopingProvider()
    agent = Agent("a", model=ECHO, provider=provider)
    assert await agent.run("hi") == ""
    assert "tools" not in provider.settings[0]


def test_the_shipped_calculator_evaluates_arithmetic_only() -> None:
    from vel_runner.demo_tools import calculate, current_time

    assert calculate("2 * (3 + 4) - -1") == 15
    assert calculate("7 // 2 + 2 ** 3") == 11
    for bad in ("__import__('os')", "x + 1", "2 ** 100000", "1 +"):
        with pytest.raises(ValueError):
            calculate(bad)
    assert current_time("Europe/Paris")[-6:] in ("+01:00", "+02:00")
    with pytest.raises(ValueError, match="unknown time zone"):
        current_time("Mars/Olympus")


async def test_a_tool_that_cancels_itself_is_an_error_result_not_a_cancelled_run() -> None:
    async def quits() -> str:
        """Raises CancelledError on its own."""
        raise asyncio.CancelledError

    agent = Agent("a", model=ECHO, tools=[quits])
    assert await agent.run("/tool quits {}") == (
        'echo (3 messages): quits -> {"error": "quits was cancelled"}'
    )


async def test_a_result_that_cannot_be_stored_is_an_error_result() -> None:
    def bad_text() -> str:
        """Returns a NUL character."""
        return "a\x00b"

    agent = Agent("a", model=ECHO, tools=[bad_text])
    await agent.run("/tool bad_text {}", session_id="s")
    stored = await agent.ctxmgr.aget_session_context("s")
    error = json.loads(stored[2]["content"])["error"]
    assert error.startswith("the result of bad_text contains a NUL character")


class FailsAfterToolProvider(LoopingProvider):
    """Calls ``add`` first, then fails: the run fails after a tool ran."""

    async def complete(
        self, messages: Sequence[dict[str, Any]], *, model: str, settings: Mapping[str, Any]
    ) -> Completion:
        if any(m.get("role") == "tool" for m in messages):
            from vel_runner import ProviderError

            raise ProviderError("upstream down", provider="test", status=503)
        return await super().complete(messages, model=model, settings=settings)


async def test_a_run_that_fails_after_a_tool_stores_nothing() -> None:
    from vel_runner import ProviderError

    agent = Agent("a", model=ECHO, tools=[add], provider=FailsAfterToolProvider())
    await agent.ctxmgr.aset_session_context("s", [{"role": "user", "content": "before"}])
    with pytest.raises(ProviderError):
        await agent.run("go", session_id="s")
    events: list[dict[str, Any]] = []
    with pytest.raises(ProviderError):
        async for event in agent.run_stream("go", session_id="s"):
            events.append(event)
    kinds = [e["type"] for e in events]
    assert "tool-output-available" in kinds and kinds[-3:] == ["error", "finish-step", "finish"]
    assert await agent.ctxmgr.aget_session_context("s") == [{"role": "user", "content": "before"}]
