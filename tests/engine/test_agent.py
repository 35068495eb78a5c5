"""Agent turns: sessions, streaming, atomicity, serialization, bad input."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import pytest
from helpers.clock import FrozenClock
from helpers.scripted import Say, ScriptedProvider

from vel_runner import (
    Agent,
    ContextManager,
    InvalidInputError,
    MissingAPIKeyError,
    ProviderError,
    StatelessContextManager,
    TurnCancelledError,
)
from vel_runner.protocols.ui_stream import EVENT_TYPES
from vel_runner.providers.base import Chunk, Completion
from vel_runner.providers.echo import EchoProvider
from vel_runner.storage.memory import MemoryStore
from vel_runner.turn_options import TurnOptions

ECHO = {"provider": "echo", "model": "echo-1"}


class FailingProvider:
    """A provider whose model call fails after ``after`` streamed words."""

    type = "failing"

    def __init__(self, after: int = 0, error: BaseException | None = None) -> None:
        self.after = after
        self.error = error or ProviderError("upstream exploded", provider="failing", status=500)

    async def complete(
        self, messages: Sequence[dict[str, Any]], *, model: str, settings: Mapping[str, Any]
    ) -> Completion:
        raise self.error

    async def stream(
        self, messages: Sequence[dict[str, Any]], *, model: str, settings: Mapping[str, Any]
    ) -> AsyncIterator[Chunk]:
        for index in range(self.after):
            yield Chunk(f"word{index} ")
        raise self.error

    async def aclose(self) -> None:
        return None


async def test_session_remembers_previous_turns() -> None:
    agent = Agent(id="a", model=ECHO)
    first = await agent.run({"message": "My name is Alice"}, session_id="user-123")
    second = await agent.run({"message": "What is my name?"}, session_id="user-123")
    assert first == "echo (1 messages): My name is Alice"
    assert second == "echo (3 messages): What is my name?"
    stored = agent.ctxmgr.get_session_context("user-123")
    assert [m["role"] for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[0]["content"] == "My name is Alice"


async def test_without_session_id_each_call_is_independent() -> None:
    agent = Agent(id="a", model=ECHO)
    assert await agent.run({"message": "one"}) == "echo (1 messages): one"
    assert await agent.run("two") == "echo (1 messages): two"
    assert agent.ctxmgr.list_sessions() == []


async def test_sessions_belong_to_their_agent() -> None:
    store_agent = Agent(id="a", model=ECHO)
    other = Agent(id="b", model=ECHO, session_storage=store_agent.store)
    await store_agent.run("hello", session_id="s")
    assert await other.run("hello", session_id="s") == "echo (1 messages): hello"
    assert len(store_agent.ctxmgr.get_session_context("s")) == 2
    assert len(other.ctxmgr.get_session_context("s")) == 2


async def test_instructions_are_sent_first_and_not_stored() -> None:
    seen: list[list[dict[str, Any]]] = []

    class Recording(EchoProvider):
        async def complete(self, messages: Any, *, model: str, settings: Any) -> Completion:
            seen.append(list(messages))
            return await super().complete(messages, model=model, settings=settings)

    agent = Agent(id="a", model=ECHO, instructions="Be brief.", provider=Recording())
    await agent.run("hi", session_id="s")
    assert seen[0][0] == {"role": "system", "content": "Be brief."}
    assert agent.ctxmgr.get_session_context("s")[0] == {"role": "user", "content": "hi"}


async def test_stream_events_follow_the_ui_message_protocol() -> None:
    agent = Agent(id="a", model=ECHO)
    events = [e async for e in agent.run_stream({"message": "hello there"}, session_id="s")]
    types = [e["type"] for e in events]
    assert types[:3] == ["start", "start-step", "text-start"]
    assert types[-3:] == ["text-end", "finish-step", "finish"]
    assert set(types) <= set(EVENT_TYPES)
    text = "".join(e["delta"] for e in events if e["type"] == "text-delta")
    assert text == "echo (1 messages): hello there"
    assert types.count("text-delta") == len(text.split(" "))  # word by word
    assert events[0]["messageMetadata"] == {"agentId": "a", "sessionId": "s"}
    assert events[-1]["messageMetadata"]["usage"]["completion_tokens"] > 0
    ids = {e["id"] for e in events if e["type"].startswith("text-")}
    assert len(ids) == 1


async def test_streamed_and_plain_turns_share_the_session() -> None:
    agent = Agent(id="a", model=ECHO)
    async for _ in agent.run_stream({"message": "My name is Alice"}, session_id="user-123"):
        pass
    answer = await agent.run({"message": "What is my name?"}, session_id="user-123")
    assert answer == "echo (3 messages): What is my name?"


async def test_failed_turn_stores_nothing_and_raises_typed_error() -> None:
    agent = Agent(id="a", model=ECHO)
    await agent.run("kept", session_id="s")
    agent.provider = FailingProvider()
    with pytest.raises(ProviderError, match="upstream exploded") as info:
        await agent.run("lost", session_id="s")
    assert info.value.status == 500
    assert len(agent.ctxmgr.get_session_context("s")) == 2


async def test_failed_stream_yields_error_event_then_raises_and_stores_nothing() -> None:
    agent = Agent(id="a", model=ECHO, provider=FailingProvider(after=2))
    seen = []
    with pytest.raises(ProviderError):
        async for event in agent.run_stream("hello", session_id="s"):
            seen.append(event)
    # the text part is closed, then the step and the message end with finishReason "error"
    assert [e["type"] for e in seen[-4:]] == ["text-end", "error", "finish-step", "finish"]
    assert seen[-3] == {"type": "error", "errorText": "upstream exploded"}
    assert seen[-1]["finishReason"] == "error"
    assert sum(e["type"] == "text-delta" for e in seen) == 2
    assert agent.ctxmgr.get_session_context("s") == []


async def test_failure_before_the_first_delta_opens_no_text_part() -> None:
    agent = Agent(id="a", model=ECHO, provider=FailingProvider(after=0))
    seen = []
    with pytest.raises(ProviderError):
        async for event in agent.run_stream("hello", session_id="s"):
            seen.append(event)
    types = [e["type"] for e in seen]
    assert types == ["start", "start-step", "error", "finish-step", "finish"]


async def test_finish_carries_the_finish_reason() -> None:
    agent = Agent(id="a", model=ECHO)
    events = [e async for e in agent.run_stream("hi", session_id="s")]
    assert events[-1]["finishReason"] == "stop"
    assert (await agent.run_turn("again", session_id="s")).finish_reason == "stop"


async def test_stream_closed_early_keeps_the_partial_answer_and_frees_the_session() -> None:
    agent = Agent(id="a", model=ECHO)
    stream = agent.run_stream("a long message to stream", session_id="s")
    deltas = []
    async for event in stream:  # type: ignore[attr-defined]
        if event["type"] == "text-delta":
            deltas.append(event["delta"])
            if len(deltas) == 3:
                break
    await stream.aclose()  # type: ignore[attr-defined]
    user, partial = agent.ctxmgr.get_session_context("s")
    assert user["content"] == "a long message to stream"
    assert partial["content"] == "".join(deltas) == "echo (1 messages):"
    assert partial["metadata"] == {"interrupted": True}
    assert partial["id"] == event["id"].removeprefix("text-")  # the start's messageId
    # the session is not left locked: the next turn runs and sees the partial answer too
    assert await asyncio.wait_for(agent.run("next", session_id="s"), 1) == (
        "echo (3 messages): next"
    )


async def test_stream_cancelled_keeps_what_its_consumer_took() -> None:
    provider = ScriptedProvider(Say(text=["one ", "two ", "three ", "four"], hold_after=2))
    agent = Agent(id="a", model=ECHO, provider=provider)
    stream = agent.run_stream("count", session_id="s")
    taken: list[str] = []

    async def consume() -> None:
        async for event in stream:  # type: ignore[attr-defined]
            if event["type"] == "text-delta":
                taken.append(event["delta"])

    task = asyncio.create_task(consume())
    await provider.holding.wait()  # two deltas out, the model thinking about the third
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = agent.ctxmgr.get_session_context("s")
    assert stored[-1]["content"] == "".join(taken) == "one two "
    assert stored[-1]["metadata"] == {"interrupted": True}


async def test_a_stream_stopped_before_any_text_stores_nothing() -> None:
    agent = Agent(id="a", model=ECHO)
    stream = agent.run_stream("hello", session_id="s")
    async for event in stream:  # type: ignore[attr-defined]
        if event["type"] == "start-step":
            break
    await stream.aclose()  # type: ignore[attr-defined]
    assert agent.ctxmgr.get_session_context("s") == []


async def test_stored_messages_have_stable_ids_and_models_never_see_them() -> None:
    seen: list[list[dict[str, Any]]] = []

    class Recording(EchoProvider):
        async def complete(self, messages: Any, *, model: str, settings: Any) -> Completion:
            seen.append(list(messages))
            return await super().complete(messages, model=model, settings=settings)

    agent = Agent(id="a", model=ECHO, provider=Recording())
    first = await agent.run_turn("one", session_id="s")
    await agent.run_turn("two", session_id="s", options=TurnOptions(user_id="u2"))
    stored = agent.ctxmgr.get_session_context("s")
    assert stored[1]["id"] == first.run_id and stored[2]["id"] == "u2"
    assert "id" not in stored[0]  # no id given: none stored (memory is per message)
    assert all(set(m) == {"role", "content"} for m in seen[1])


async def test_regenerate_answers_the_stored_user_message_again() -> None:
    agent = Agent(id="a", model=ECHO, instructions="Be brief.")
    await agent.run("one", session_id="s")
    with pytest.raises(InvalidInputError, match="nothing to regenerate"):
        await agent.run_turn("x", session_id="s", options=TurnOptions(regenerate=True))
    record = agent.ctxmgr.get_session_context("s")
    await agent.ctxmgr.aset_session_context("s", record[:1])
    again = await agent.run_turn("ignored", session_id="s", options=TurnOptions(regenerate=True))
    assert again.output == "echo (2 messages): one"
    stored = agent.ctxmgr.get_session_context("s")
    assert [m["content"] for m in stored] == ["one", "echo (2 messages): one"]
    assert stored[0] == record[0] and stored[1]["id"] == again.run_id


async def test_turn_instructions_add_to_the_agents_own() -> None:
    seen: list[list[dict[str, Any]]] = []

    class Recording(EchoProvider):
        async def complete(self, messages: Any, *, model: str, settings: Any) -> Completion:
            seen.append(list(messages))
            return await super().complete(messages, model=model, settings=settings)

    agent = Agent(id="a", model=ECHO, instructions="Be brief.", provider=Recording())
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"}]
    with pytest.raises(InvalidInputError, match="instructions contains a NUL"):
        await agent.run_turn("hi", session_id="s", options=TurnOptions(instructions="a\x00"))
    options = TurnOptions(instructions="Speak French.", history=history)
    await agent.run_turn("hi", session_id="s", options=options)
    assert seen[0][0] == {"role": "system", "content": "Be brief.\n\nSpeak French."}
    assert [m["content"] for m in seen[0][1:]] == ["earlier", "ok", "hi"]
    assert [m["content"] for m in agent.ctxmgr.get_session_context("s")][:3] == [
        "earlier",
        "ok",
        "hi",
    ]


class AnsweringSlowly(EchoProvider):
    """The echo provider, telling when a model call has started and taking its time."""

    def __init__(self) -> None:
        super().__init__()
        self.called = asyncio.Event()

    async def complete(self, messages: Any, *, model: str, settings: Any) -> Completion:
        self.called.set()
        await asyncio.sleep(60)  # the model thinking; the test cancels it
        return await super().complete(messages, model=model, settings=settings)


async def test_cancelled_task_stores_nothing() -> None:
    provider = AnsweringSlowly()
    agent = Agent(id="a", model=ECHO, provider=provider)
    task = asyncio.create_task(agent.run("slow", session_id="s"))
    await asyncio.wait_for(provider.called.wait(), 5)  # cancelled in the middle of the call
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert agent.ctxmgr.get_session_context("s") == []


async def test_provider_that_cancels_itself_is_a_typed_error() -> None:
    agent = Agent(id="a", model=ECHO, provider=FailingProvider(error=asyncio.CancelledError()))
    with pytest.raises(TurnCancelledError, match="nothing was stored"):
        await agent.run("x", session_id="s")
    assert agent.ctxmgr.get_session_context("s") == []


async def test_concurrent_turns_on_one_session_are_serialized() -> None:
    agent = Agent(id="a", model={**ECHO, "delay": 0.001})
    answers = await asyncio.gather(
        *(agent.run({"message": f"q{i}"}, session_id="s") for i in range(20))
    )
    stored = agent.ctxmgr.get_session_context("s")
    assert len(stored) == 40
    for pair in range(20):
        question, answer = stored[2 * pair], stored[2 * pair + 1]
        assert question["role"] == "user" and answer["role"] == "assistant"
        assert answer["content"] == f"echo ({2 * pair + 1} messages): {question['content']}"
    assert sorted(answers) == sorted(m["content"] for m in stored[1::2])


async def test_different_sessions_run_in_parallel() -> None:
    agent = Agent(id="a", model={**ECHO, "delay": 0.2})
    started = time.perf_counter()
    await asyncio.gather(*(agent.run("hi", session_id=f"s{i}") for i in range(10)))
    assert time.perf_counter() - started < 1.0  # serial would take >= 2 s
    assert len(agent.ctxmgr.list_sessions()) == 10


@pytest.mark.parametrize(
    ("payload", "session_id", "match"),
    [
        ({"message": ""}, None, "must not be empty"),
        ({"message": "   "}, None, "must not be empty"),
        ({"message": 42}, None, "must be a string"),
        ({"text": "hi"}, None, "'message' key"),
        ({"message": "hi"}, "", "non-empty"),
        ({"message": "hi"}, 7, "must be a string"),
        ({"message": "hi"}, "x" * 300, "limit is 256"),
        ({"message": "hi"}, "bad\nid", "control characters"),
    ],
)
async def test_bad_turn_input_is_a_value_error(payload: Any, session_id: Any, match: str) -> None:
    agent = Agent(id="a", model=ECHO)
    with pytest.raises(ValueError, match=match):
        await agent.run(payload, session_id=session_id)
    with pytest.raises(InvalidInputError, match=match):
        agent.run_stream(payload, session_id=session_id)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": {"provider": "nope", "model": "m"}}, "unknown provider 'nope'"),
        ({"model": {"provider": "echo"}}, r"model\['model'\]"),
        ({"model": "gpt-4o"}, "model must be a dict"),
        ({"model": {**ECHO, "temprature": 1}}, "unknown model keys"),
        ({"model": ECHO, "session_storage": "redis"}, "unknown session_storage 'redis'"),
        ({"model": ECHO, "ttl": -1}, "ttl must be a positive"),
        ({"model": ECHO, "context_manager": "full"}, "context_manager must be"),
    ],
)
def test_bad_agent_arguments_are_value_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Agent(id="a", **kwargs)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_invalid_max_history_is_rejected(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_history must be a positive integer"):
        ContextManager(max_history=bad)


def test_summarize_needs_a_window() -> None:
    with pytest.raises(ValueError, match="summarize=True needs max_history"):
        ContextManager(summarize=True)


def test_a_context_manager_belongs_to_one_agent() -> None:
    shared = ContextManager()
    Agent(id="a", model=ECHO, context_manager=shared)
    with pytest.raises(ValueError, match="already belongs to agent 'a'"):
        Agent(id="b", model=ECHO, context_manager=shared)


async def test_missing_openai_key_is_a_clear_error_at_first_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    agent = Agent(id="a", model={"provider": "openai", "model": "gpt-4o"})  # no error yet
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY"):
        await agent.run("hi", session_id="s")
    assert agent.ctxmgr.get_session_context("s") == []


async def test_ttl_expired_sessions_are_never_served() -> None:
    clock = FrozenClock()
    agent = Agent(id="a", model=ECHO, ttl=0.1, session_storage=MemoryStore(clock=clock))
    await agent.run("remember me", session_id="s")
    info = agent.ctxmgr.list_sessions()[0]
    assert info.expires_at is not None and info.expires_at > info.updated_at
    clock.advance(0.15)
    assert agent.ctxmgr.get_session_context("s") == []
    assert agent.ctxmgr.list_sessions() == []
    assert await agent.run("again", session_id="s") == "echo (1 messages): again"


async def test_stateless_agent_with_session_stores_nothing() -> None:
    agent = Agent(id="a", model=ECHO, context_manager=StatelessContextManager())
    assert await agent.run("one", session_id="s") == "echo (1 messages): one"
    assert await agent.run("two", session_id="s") == "echo (1 messages): two"
    events = [e async for e in agent.run_stream("three", session_id="s")]
    assert events[-1]["type"] == "finish"
    assert agent.ctxmgr.get_session_context("s") == []
    assert agent.context_mode == "stateless"


async def test_aclose_closes_only_what_the_agent_owns() -> None:
    owner = Agent(id="a", model=ECHO)
    sharer = Agent(id="b", model=ECHO, session_storage=owner.store)
    await sharer.aclose()
    assert await owner.run("still works", session_id="s")
    await owner.aclose()
