"""Context modes: windows, pinned system prompts, orphan tool results, summaries, RAG hooks,
and the agent.ctxmgr session operations."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from helpers.clock import FrozenClock

from vel_runner import Agent, ContextManager, InvalidInputError, get_inactive_sessions
from vel_runner.context import SUMMARY_PREFIX, split_window
from vel_runner.providers.base import Completion
from vel_runner.providers.echo import EchoProvider
from vel_runner.storage.memory import MemoryStore

ECHO = {"provider": "echo", "model": "echo-1"}


class Recording(EchoProvider):
    """The echo provider, keeping every request it answered."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[list[dict[str, Any]]] = []

    async def complete(self, messages: Any, *, model: str, settings: Any) -> Completion:
        self.requests.append([dict(m) for m in messages])
        return await super().complete(messages, model=model, settings=settings)


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def test_split_window_keeps_system_prompt_and_skips_orphan_tool_results() -> None:
    messages = [
        {"role": "system", "content": "sys"},
        user("q1"),
        {"role": "assistant", "content": None, "tool_calls": [{"id": "t1"}]},
        {"role": "tool", "tool_call_id": "t1", "content": "42"},
        {"role": "assistant", "content": "it is 42"},
        user("q2"),
    ]
    kept, dropped = split_window(messages, 3)
    # the last 3 would start on the tool result, whose call fell out: it is dropped as well
    assert kept == [messages[0], messages[4], messages[5]]
    assert dropped == messages[1:4]
    kept, dropped = split_window(messages, 10)
    assert kept == messages and dropped == []


async def test_window_limits_what_the_model_sees_and_what_is_stored() -> None:
    provider = Recording()
    agent = Agent(
        id="a", model=ECHO, provider=provider, context_manager=ContextManager(max_history=10)
    )
    for index in range(12):
        await agent.run(f"q{index}", session_id="s")
    assert max(len(r) for r in provider.requests) == 10
    assert provider.requests[-1][-1] == user("q11")
    stored = agent.ctxmgr.get_session_context("s")
    assert len(stored) == 10
    assert stored[-1]["content"] == "echo (10 messages): q11"
    assert agent.context_mode == "window"


async def test_window_never_drops_the_system_prompt() -> None:
    provider = Recording()
    agent = Agent(
        id="a", model=ECHO, provider=provider, context_manager=ContextManager(max_history=2)
    )
    agent.ctxmgr.set_session_context("s", [{"role": "system", "content": "You are Bob."}])
    for index in range(4):
        await agent.run(f"q{index}", session_id="s")
    assert all(r[0] == {"role": "system", "content": "You are Bob."} for r in provider.requests)
    stored = agent.ctxmgr.get_session_context("s")
    assert stored[0]["role"] == "system" and len(stored) == 3


async def test_summarize_condenses_what_falls_out_and_sends_it_ahead() -> None:
    provider = Recording()
    agent = Agent(
        id="a",
        model=ECHO,
        provider=provider,
        context_manager=ContextManager(max_history=2, summarize=True),
    )
    await agent.run("My name is Alice", session_id="s")
    await agent.run("I like jazz", session_id="s")
    record = await agent.ctxmgr.aget_session("s")
    assert record is not None and record.summary is not None
    assert "My name is Alice" in record.summary  # the dropped user message was summarized
    assert len(record.messages) == 2
    await agent.run("What is my name?", session_id="s")
    last_turn = provider.requests[-2]  # the last request is the summary update
    assert last_turn[0]["role"] == "system"
    assert last_turn[0]["content"].startswith(SUMMARY_PREFIX)
    assert "My name is Alice" in last_turn[0]["content"]
    summary_request = provider.requests[-1]
    assert "Previous summary" in summary_request[1]["content"]
    assert agent.context_mode == "summarize"


async def test_rag_subclass_decides_exactly_what_the_model_receives() -> None:
    class RAGContextManager(ContextManager):
        def messages_for_llm(self, run_id: str, session_id: str | None = None) -> list[Any]:
            messages = super().messages_for_llm(run_id, session_id)
            if session_id:
                messages.insert(0, {"role": "system", "content": "Relevant context: docs"})
            return messages

    provider = Recording()
    agent = Agent(id="a", model=ECHO, provider=provider, context_manager=RAGContextManager())
    await agent.run("q1", session_id="s")
    await agent.run("q2", session_id="s")
    assert provider.requests[1][0] == {"role": "system", "content": "Relevant context: docs"}
    assert provider.requests[1][1:] == [
        user("q1"),
        {"role": "assistant", "content": "echo (2 messages): q1"},
        user("q2"),
    ]
    stored = agent.ctxmgr.get_session_context("s")
    assert all(m["role"] != "system" for m in stored)
    await agent.run("no session")
    assert provider.requests[2] == [user("no session")]


async def test_set_get_clear_session_context() -> None:
    agent = Agent(id="a", model=ECHO)
    messages = [
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Hi there!"},
    ]
    agent.ctxmgr.set_session_context("user-123", messages)
    assert agent.ctxmgr.get_session_context("user-123") == messages
    assert await agent.run("and now?", session_id="user-123") == "echo (3 messages): and now?"
    assert agent.ctxmgr.clear_session("user-123") is True
    assert agent.ctxmgr.get_session_context("user-123") == []
    assert agent.ctxmgr.clear_session("user-123") is False


@pytest.mark.parametrize(
    ("messages", "match"),
    [
        ("hello", "must be a list"),
        ([{"content": "x"}], r"messages\[0\].role"),
        ([{"role": "user", "content": object()}], "not JSON-serializable"),
        ([{"role": "user"}], "has no 'content'"),
        ([42], r"messages\[0\] must be a dict"),
    ],
)
async def test_bad_session_context_is_rejected_before_any_write(messages: Any, match: str) -> None:
    agent = Agent(id="a", model=ECHO)
    agent.ctxmgr.set_session_context("s", [user("keep me")])
    with pytest.raises(ValueError, match=match):
        agent.ctxmgr.set_session_context("s", messages)
    with pytest.raises(ValueError, match=match):
        await agent.ctxmgr.aset_session_context("s", messages)
    assert agent.ctxmgr.get_session_context("s") == [user("keep me")]


async def test_async_twins_match_the_sync_operations() -> None:
    agent = Agent(id="a", model=ECHO)
    await agent.ctxmgr.aset_session_context("s", [user("hi")])
    assert await agent.ctxmgr.aget_session_context("s") == [user("hi")]
    assert [i.session_id for i in await agent.ctxmgr.alist_sessions()] == ["s"]
    assert await agent.ctxmgr.aclear_session("s") is True
    assert await agent.ctxmgr.aget_session("s") is None


async def test_listing_and_deleting_inactive_sessions() -> None:
    # the process-wide helper looks at every agent alive in this process: the garbage of
    # earlier tests (agents on databases dropped since) goes first, whichever ran before
    gc.collect()
    clock = FrozenClock()
    agent = Agent(id="cleanup-agent", model=ECHO, session_storage=MemoryStore(clock=clock))
    for sid in ("old-1", "old-2"):
        await agent.run("hi", session_id=sid)
    clock.advance(2 * 3600)  # two sessions idle for two hours
    await agent.run("hi", session_id="fresh")
    infos = {i.session_id: i for i in agent.ctxmgr.list_sessions()}
    assert infos["fresh"].message_count == 2 and infos["fresh"].store == "memory"
    assert agent.ctxmgr.get_inactive_sessions(max_age_hours=1) == ["old-1", "old-2"]
    assert await agent.ctxmgr.aget_inactive_sessions(max_age_seconds=3600) == ["old-1", "old-2"]
    assert "old-1" in get_inactive_sessions(max_age_hours=1)
    assert get_inactive_sessions(max_age_hours=1, agent_id="nobody") == []
    # the process-wide helper takes the same spellings as agent.ctxmgr (and its old one)
    mine = {"agent_id": "cleanup-agent"}
    assert get_inactive_sessions(max_age_seconds=3600, **mine) == ["old-1", "old-2"]
    assert get_inactive_sessions(maxage_seconds=3600, **mine) == ["old-1", "old-2"]
    with pytest.raises(ValueError, match="max_age_seconds only"):
        get_inactive_sessions(max_age_seconds=1, maxage_seconds=1)
    assert agent.ctxmgr.delete_inactive_sessions(max_age_hours=1) == 2
    assert [i.session_id for i in agent.ctxmgr.list_sessions()] == ["fresh"]
    clock.advance(1)
    assert await agent.ctxmgr.adelete_inactive_sessions(max_age_seconds=0) == 1


def test_age_arguments_are_checked() -> None:
    agent = Agent(id="a", model=ECHO)
    with pytest.raises(ValueError, match="exactly one"):
        agent.ctxmgr.get_inactive_sessions()
    with pytest.raises(ValueError, match="non-negative"):
        agent.ctxmgr.get_inactive_sessions(max_age_hours=-1)


def test_unbound_context_manager_explains_itself() -> None:
    with pytest.raises(ValueError, match="not attached to an agent"):
        ContextManager().get_session_context("s")


@pytest.mark.parametrize("age", [True, False, float("nan"), float("inf"), -1, "1", None])
async def test_an_age_is_a_finite_number_never_a_boolean(age: Any) -> None:
    # False once meant "idle for 0 s" (every session), True one hour; NaN a bare ValueError
    agent = Agent(id="ages", model=ECHO)
    await agent.run("hi", session_id="keep")
    calls: list[Any] = [
        lambda: agent.ctxmgr.get_inactive_sessions(max_age_hours=age),
        lambda: agent.ctxmgr.delete_inactive_sessions(max_age_hours=age),
        lambda: agent.ctxmgr.delete_inactive_sessions(max_age_seconds=age),
        lambda: agent.ctxmgr.adelete_inactive_sessions(max_age_hours=age),
        lambda: agent.ctxmgr.aget_inactive_sessions(max_age_seconds=age),
        lambda: get_inactive_sessions(max_age_hours=age, agent_id="ages"),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError, match=r"max_age_(hours|seconds)"):
            result = call()
            if asyncio.iscoroutine(result):
                await result
    assert [i.session_id for i in agent.ctxmgr.list_sessions()] == ["keep"]


async def test_a_huge_age_selects_nothing_instead_of_overflowing() -> None:
    agent = Agent(id="ages", model=ECHO)
    await agent.run("hi", session_id="keep")
    assert agent.ctxmgr.get_inactive_sessions(max_age_hours=1e12) == []
    assert await agent.ctxmgr.adelete_inactive_sessions(max_age_seconds=1e300) == 0


async def test_a_context_manager_bound_to_a_store_needs_no_agent() -> None:
    store = MemoryStore()
    ctx = ContextManager(max_history=2)
    ctx.bind(store, "a", 60.0)
    await ctx.aset_session_context("s", [user("one"), user("two")])
    record = await store.get("a", "s")
    assert record is not None and [m["content"] for m in record.messages] == ["one", "two"]
    assert record.expires_at is not None  # the bound ttl applies
    ctx.bind(store, "a", 60.0)  # the same binding again is harmless
    with pytest.raises(ValueError, match="already belongs to agent 'a'"):
        ctx.bind(store, "b", 60.0)
    built = ctx.build_messages("r1", "s", "be brief", [user("x"), user("y")], None, [user("z")])
    assert built == [{"role": "system", "content": "be brief"}, user("y"), user("z")]
    assert ctx.messages_for_llm("r1") == []  # nothing prepared outlives its turn
