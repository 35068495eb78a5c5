"""Windows and summaries keep tool calls with their results; a stored call without a result
gets a synthetic "interrupted" result before a model sees it."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from vel_runner import Agent, ContextManager
from vel_runner.context import INTERRUPTED, pair_tool_results, split_window

ECHO = {"provider": "echo", "model": "echo-1"}


def call_message(*ids: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": i, "type": "function", "function": {"name": "f", "arguments": "{}"}} for i in ids
        ],
    }


def result(call_id: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": "ok"}


@st.composite
def conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A stored session: turns of user, [assistant calls + results]*, assistant answer."""
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": "pinned"})
    for turn in range(draw(st.integers(1, 6))):
        messages.append({"role": "user", "content": f"u{turn}"})
        for step in range(draw(st.integers(0, 3))):
            ids = [f"t{turn}-{step}-{n}" for n in range(draw(st.integers(1, 3)))]
            messages.append(call_message(*ids))
            messages.extend(result(i) for i in ids)
        messages.append({"role": "assistant", "content": f"a{turn}"})
    return messages


def assert_pairs_intact(window: list[dict[str, Any]]) -> None:
    """Every result follows its call's message; every call has all its results after it."""
    open_ids: list[str] = []
    for message in window:
        if message["role"] == "tool":
            assert message["tool_call_id"] in open_ids, f"orphan result in {window}"
            open_ids.remove(message["tool_call_id"])
            continue
        assert not open_ids, f"call without its results in {window}"
        open_ids = [c["id"] for c in message.get("tool_calls") or ()]
    assert not open_ids


@settings(max_examples=300, deadline=None)
@given(conversations(), st.integers(1, 30))
def test_no_window_ever_splits_a_tool_pair(messages: list[dict[str, Any]], size: int) -> None:
    kept, dropped = split_window(messages, size)
    assert_pairs_intact(kept)
    body = [m for m in kept if m["role"] != "system"]
    assert len(body) <= size
    assert kept + dropped != [] and len(kept) + len(dropped) == len(messages)


@settings(max_examples=200, deadline=None)
@given(conversations(), st.integers(0, 40))
def test_any_cut_of_a_session_is_repaired_before_a_model_sees_it(
    messages: list[dict[str, Any]], cut: int
) -> None:
    """A store that loaded the last N messages, or a session cut by a crash, both repaired."""
    assert_pairs_intact(pair_tool_results(messages[cut:]))
    assert_pairs_intact(pair_tool_results(messages[:cut]))


def test_a_call_without_a_result_gets_an_interrupted_result() -> None:
    messages = [{"role": "user", "content": "hi"}, call_message("a", "b"), result("b")]
    repaired = pair_tool_results(messages)
    assert repaired[2] == {"role": "tool", "tool_call_id": "a", "content": INTERRUPTED}
    assert repaired[3] == result("b")
    assert json.loads(INTERRUPTED)["error"].startswith("interrupted")


async def test_a_hand_written_session_is_repaired_in_what_the_model_receives() -> None:
    agent = Agent("a", model=ECHO)
    await agent.ctxmgr.aset_session_context(
        "s", [{"role": "user", "content": "x"}, call_message("lost"), result("stray")]
    )
    captured: list[list[dict[str, Any]]] = []
    original = agent.ctxmgr.messages_for_llm

    def spy(run_id: str, session_id: str | None = None) -> list[dict[str, Any]]:
        captured.append(original(run_id, session_id))
        return captured[-1]

    agent.ctxmgr.messages_for_llm = spy  # type: ignore[method-assign]
    await agent.run("next", session_id="s")
    sent = captured[0]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "user"]
    assert sent[2] == {"role": "tool", "tool_call_id": "lost", "content": INTERRUPTED}


async def test_window_mode_stores_and_sends_whole_tool_pairs() -> None:
    async def ping() -> str:
        """Ping."""
        return "pong"

    agent = Agent("w", model=ECHO, tools=[ping], context_manager=ContextManager(max_history=4))
    for _ in range(3):
        await agent.run("/tool ping {}\n/tool ping {}", session_id="s")
    stored = await agent.ctxmgr.aget_session_context("s")
    assert len(stored) <= 4
    assert_pairs_intact(stored)


async def test_summarize_folds_tool_calls_into_the_summary() -> None:
    async def ping() -> str:
        """Ping."""
        return "pong"

    agent = Agent(
        "s",
        model=ECHO,
        tools=[ping],
        context_manager=ContextManager(max_history=2, summarize=True),
    )
    await agent.run("/tool ping {}", session_id="s")
    record = await agent.ctxmgr.aget_session("s")
    assert record is not None and record.summary
    assert "[called ping({})]" in record.summary
    assert_pairs_intact(record.messages)


async def test_set_session_context_refuses_malformed_tool_fields() -> None:
    import pytest

    from vel_runner import InvalidInputError

    agent = Agent("a", model=ECHO)
    bad = [
        ([{"role": "tool", "content": "x"}], "no string 'tool_call_id'"),
        ([{"role": "user", "content": "x", "tool_calls": []}], "on an assistant message"),
        ([{"role": "assistant", "tool_calls": "abc"}], "must be a list"),
        ([{"role": "assistant", "tool_calls": [{"id": "a"}]}], r"tool_calls\[0\] must be"),
    ]
    for messages, needle in bad:
        with pytest.raises(InvalidInputError, match=needle):
            await agent.ctxmgr.aset_session_context("s", messages)
    good = [{"role": "user", "content": "x"}, call_message("a"), result("a")]
    await agent.ctxmgr.aset_session_context("s", good)
    assert await agent.ctxmgr.aget_session_context("s") == good
