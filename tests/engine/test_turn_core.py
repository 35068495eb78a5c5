"""The turn core: one loop, streamed (typed events through an encoder) or not (no events, the
provider's whole reply), the same result either way; per-turn work done once; the model's
view kept by the store instead of rebuilt from the whole history."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from helpers.scripted import Say, ScriptedProvider

from vel_runner import Agent, ContextManager, turn_steps, turn_stream
from vel_runner import context as context_module
from vel_runner import model_view as model_view_module
from vel_runner.events import (
    StepEnded,
    StepStarted,
    TextDelta,
    TextEnded,
    ToolCallReady,
    ToolCallStarted,
    ToolInputDelta,
    ToolOutput,
    TurnFinished,
    TurnStarted,
)
from vel_runner.model_view import HistoryView, is_paired, pairing_after
from vel_runner.observe import hooks
from vel_runner.storage.memory import MemoryStore
from vel_runner.storage.postgres import PostgresStore

MODEL = {"provider": "echo", "model": "m"}


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def adder(**options: Any) -> Agent:
    provider = ScriptedProvider(
        Say(text=["Let me ", "add. "], calls=[("add", {"a": 2, "b": 3})]),
        Say(text=["The sum ", "is 5."]),
    )
    return Agent("adder", model=MODEL, provider=provider, tools=[add], **options)


async def test_the_output_is_everything_the_model_wrote_streamed_or_not() -> None:
    plain = await adder().run_turn("2 + 3?", session_id="s")
    events = [e async for e in adder().run_stream("2 + 3?", session_id="s")]
    deltas = "".join(e["delta"] for e in events if e["type"] == "text-delta")
    assert plain.output == deltas == "Let me add. The sum is 5."
    assert await adder().run("2 + 3?") == plain.output


async def test_a_streamed_turn_is_typed_events_that_end_in_the_plain_result() -> None:
    agent = adder()
    events = [e async for e in agent.stream("2 + 3?", session_id="s")]
    kinds = [type(e) for e in events]
    assert kinds == [
        TurnStarted,
        StepStarted,
        TextDelta,
        TextDelta,
        ToolCallStarted,
        ToolInputDelta,
        ToolInputDelta,
        TextEnded,
        ToolCallReady,
        ToolOutput,
        StepEnded,
        StepStarted,
        TextDelta,
        TextDelta,
        TextEnded,
        StepEnded,
        TurnFinished,
    ]
    started, finished = events[0], events[-1]
    assert isinstance(started, TurnStarted) and isinstance(finished, TurnFinished)
    result = finished.result
    assert result.run_id == started.run_id and result.output == "Let me add. The sum is 5."
    assert [e.index for e in events if isinstance(e, StepStarted | StepEnded)] == [0, 0, 1, 1]
    ready = next(e for e in events if isinstance(e, ToolCallReady))
    assert ready.input == {"a": 2, "b": 3} and not ready.client
    output = next(e for e in events if isinstance(e, ToolOutput))
    assert (output.name, output.output, output.error) == ("add", 5, None)
    assert [type(e) for e in events if isinstance(e, TextEnded)] == [TextEnded, TextEnded]
    assert [e.answer for e in events if isinstance(e, TextEnded)] == [False, True]
    plain = await adder().run_turn("2 + 3?", session_id="s")
    assert (plain.output, plain.usage, plain.finish_reason) == (
        result.output,
        result.usage,
        result.finish_reason,
    )
    assert [m["role"] for m in result.messages] == [m["role"] for m in plain.messages]


async def test_a_plain_turn_makes_no_events_and_asks_for_the_whole_reply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_events(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a non-streamed turn made an event")

    for name in ("StepStarted", "StepEnded", "TextEnded", "ToolCallReady", "ToolOutput"):
        monkeypatch.setattr(turn_stream, name, no_events)  # the streamed turn's module
    for name in ("TextDelta", "ToolCallStarted", "ToolInputDelta", "ToolOutput"):
        monkeypatch.setattr(turn_steps, name, no_events)
    agent = adder()
    calls: list[str] = []
    provider = agent.provider
    complete, stream = provider.complete, provider.stream

    async def counted_complete(*args: Any, **kwargs: Any) -> Any:
        calls.append("complete")
        return await complete(*args, **kwargs)

    def counted_stream(*args: Any, **kwargs: Any) -> Any:
        calls.append("stream")
        return stream(*args, **kwargs)

    monkeypatch.setattr(provider, "complete", counted_complete)
    monkeypatch.setattr(provider, "stream", counted_stream)
    result = await agent.run_turn("2 + 3?", session_id="s")
    assert result.output == "Let me add. The sum is 5."
    assert calls == ["complete", "complete"]


async def test_the_tool_catalogue_is_made_once_per_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = ScriptedProvider(
        Say(calls=[("add", {"a": 1, "b": 1})]),
        Say(calls=[("add", {"a": 2, "b": 2})]),
        Say(text=["done"]),
    )
    agent = Agent("adder", model=MODEL, provider=provider, tools=[add])
    made = 0
    catalogue = agent.toolbox.openai_tools

    def counted() -> list[dict[str, Any]]:
        nonlocal made
        made += 1
        return catalogue()

    monkeypatch.setattr(agent.toolbox, "openai_tools", counted)
    await agent.run("go", session_id="s")
    assert made == 1
    assert provider.settings[0]["tools"] == provider.settings[2]["tools"]
    assert provider.settings[0] is not provider.settings[2]  # but each model call has its own


async def test_concurrent_turns_each_report_to_their_own_step() -> None:
    """No registry keyed by run id: a turn holds its step and its model calls are its
    children, however turns interleave."""
    ended: list[hooks.Step] = []

    class Keep:
        def started(self, step: hooks.Step) -> None:
            return None

        def ended(self, step: hooks.Step) -> None:
            ended.append(step)

    remove = hooks.add_observer(Keep())
    try:
        agents = [adder() for _ in range(3)]
        await asyncio.gather(
            *(a.run_turn("2 + 3?", session_id=f"s{i}") for i, a in enumerate(agents))
        )
    finally:
        remove()
    turns = {step.run_id: step for step in ended if step.kind == "turn"}
    assert len(turns) == 3
    for step in ended:
        if step.kind in ("chat", "tool"):
            assert step.parent is turns[step.run_id]
    for turn in turns.values():
        assert (turn.input_tokens, turn.output_tokens) == (20, 10)  # its two model calls


# -- the model's view ---------------------------------------------------------------------


def user(text: str, **extra: Any) -> dict[str, Any]:
    return {"role": "user", "content": text, **extra}


def answer(text: str, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": text, "id": f"run-{text}", **extra}


def calls(*ids: str) -> dict[str, Any]:
    parts = [
        {"id": i, "type": "function", "function": {"name": "f", "arguments": "{}"}} for i in ids
    ]
    return {"role": "assistant", "content": None, "tool_calls": parts}


def result(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "ok"}


HISTORIES = {
    "plain": [user("a"), answer("b"), user("c", id="u1"), answer("d", metadata={"x": 1})],
    "tools": [user("a"), calls("1", "2"), result("1"), result("2"), answer("b")],
    "waiting for a result": [user("a"), calls("1", "2"), result("1")],
    "results out of order": [user("a"), calls("1", "2"), result("2"), result("1"), answer("b")],
    "a call without result": [user("a"), calls("1"), user("b"), answer("c")],
    "a stray result": [user("a"), result("9"), answer("b")],
    "system prompt": [{"role": "system", "content": "be kind"}, user("a"), answer("b")],
}
NEW = {"a user message": [user("next", id="u2")], "the awaited result": [result("2")]}


@pytest.mark.parametrize("history", HISTORIES, ids=str)
@pytest.mark.parametrize("new", NEW, ids=str)
def test_the_kept_view_gives_the_model_what_the_whole_history_would(history: str, new: str) -> None:
    ctx = ContextManager()
    messages, added = HISTORIES[history], NEW[new]
    view = HistoryView(messages)
    fast = ctx.build_messages("r", "s", "be brief", messages, "earlier", added, view)
    slow = ctx.build_messages("r", "s", "be brief", messages, "earlier", added, None)
    assert fast == slow
    assert all("id" not in m and "metadata" not in m for m in fast)


def test_pairing_follows_the_history() -> None:
    assert is_paired(pairing_after(((), True), HISTORIES["tools"]))
    waiting = pairing_after(((), True), HISTORIES["waiting for a result"])
    assert waiting == (("2",), True) and not is_paired(waiting)
    assert is_paired(pairing_after(waiting, [result("2")]))
    for broken in ("results out of order", "a call without result", "a stray result"):
        assert not is_paired(pairing_after(((), True), HISTORIES[broken])), broken


def count_for_model(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the messages put in the model's form from now on."""
    seen: list[int] = []
    original = model_view_module.for_model

    def counted(message: dict[str, Any]) -> dict[str, Any]:
        seen.append(1)
        return original(message)

    monkeypatch.setattr(model_view_module, "for_model", counted)
    monkeypatch.setattr(context_module, "for_model", counted)
    return seen


@pytest.mark.parametrize("kind", ["memory", "database"])
async def test_a_turn_on_a_long_session_reads_only_its_new_messages(
    kind: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """The store keeps the model's view: a warm turn's cost does not grow with the history."""
    if kind == "memory":
        store: Any = MemoryStore()
    else:
        store = PostgresStore(request.getfixturevalue("fresh_postgres_dsn"), max_size=2)
    agent = Agent("long", model=MODEL, session_storage=store)
    history = [m for i in range(500) for m in (user(f"q{i}"), answer(f"a{i}"))]
    await agent.ctxmgr.aset_session_context("s", history)
    try:
        await agent.run("warm up", session_id="s")  # the first turn builds the view once
        seen = count_for_model(monkeypatch)
        assert await agent.run("next", session_id="s") == "echo (1003 messages): next"
        assert len(seen) <= 3  # the user message, then the two new stored ones
        stored = await agent.ctxmgr.aget_session_context("s")
        assert len(stored) == 1004 and stored[-1]["id"]
    finally:
        await store.close()


async def test_the_database_view_follows_other_processes_and_a_system_prompt(
    fresh_postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process appends to the session between two turns of this one, which holds the
    session's tail and its view in its cache: the model still gets exactly the stored
    history (pinned system prompt first, ids dropped), reading only the new messages."""
    here, there = PostgresStore(fresh_postgres_dsn), PostgresStore(fresh_postgres_dsn)
    provider = ScriptedProvider(Say(text=["fine"]), repeat_last=True)
    agent = Agent("a", model=MODEL, provider=provider, session_storage=here)
    other = Agent("a", model=MODEL, session_storage=there)
    try:
        prompt = {"role": "system", "content": "be kind"}
        history = [m for i in range(100) for m in (user(f"q{i}"), answer(f"a{i}"))]
        await agent.ctxmgr.aset_session_context("s", [prompt, *history])
        await agent.run("one", session_id="s")
        await other.run("from elsewhere", session_id="s")
        await other.run("and again", session_id="s")
        seen = count_for_model(monkeypatch)
        await agent.run("two", session_id="s")
        assert len(seen) <= 8  # the prompt, four appended elsewhere, the user message, two new
        stored = await agent.ctxmgr.aget_session_context("s")
        sent = provider.requests[-1]
        assert sent == [{k: v for k, v in m.items() if k != "id"} for m in stored[:-1]]
        assert sent[0] == prompt and len(sent) == 208
    finally:
        await here.close()
        await there.close()
