"""Tool approval in the library: a call that needs a person does not run, the turn ends with
it pending in the session, and ``run_turn({"approvals": [...]})`` answers it: approved calls
run exactly once, denied ones give the model a denial (with the reason), expired ones and
ones a new message passed by are closed with a result that says so. Streamed and whole turns
alike, with the echo provider and a scripted model."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from helpers.scripted import Say, ScriptedProvider
from helpers.waiting import wait_until

from vel_runner import Agent, FunctionTool, StatelessContextManager
from vel_runner.errors import (
    ApprovalNotFoundError,
    ApprovalStateError,
    InvalidInputError,
    ProviderError,
)

CALLS: list[str] = []


def wipe(path: str) -> str:
    """Wipe a path."""
    CALLS.append(f"wipe {path}")
    return f"wiped {path}"


def peek(path: str) -> str:
    """Look at a path."""
    CALLS.append(f"peek {path}")
    return f"{path}: 3 files"


ASK = '/tool wipe {"path": "/a"}\n/tool peek {"path": "/b"}'


@pytest.fixture(autouse=True)
def fresh_calls() -> None:
    CALLS.clear()


def echo_ops(**options: object) -> Agent:
    return Agent(
        "ops",
        {"provider": "echo", "model": "e"},
        tools=[FunctionTool(wipe, approval="required"), peek],
        **options,  # type: ignore[arg-type]
    )


def scripted_ops(*replies: Say, timeout: float | None = None) -> tuple[Agent, ScriptedProvider]:
    provider = ScriptedProvider(*replies)
    tools = [FunctionTool(wipe, approval=True, approval_timeout=timeout), peek]
    agent = Agent("ops", {"provider": "scripted", "model": "m"}, provider=provider, tools=tools)
    return agent, provider


async def test_a_call_that_needs_approval_waits_and_the_others_run() -> None:
    agent = echo_ops()
    result = await agent.run_turn(ASK, session_id="s")
    assert result.status == "awaiting_approval" and result.finish_reason == "tool-calls"
    assert CALLS == ["peek /b"]  # wipe waits; peek ran in the same step
    (approval,) = result.approvals
    assert (approval.tool, approval.input, approval.tool_call_id) == (
        "wipe",
        {"path": "/a"},
        "call_1_0",
    )
    stored = await agent.ctxmgr.aget_session_context("s")
    user, assistant, ran = stored
    assert user["content"] == ASK
    assert assistant["id"] == result.run_id  # a response id to continue from
    assert assistant["metadata"]["approvals"][0]["id"] == approval.id
    assert ran == {"role": "tool", "tool_call_id": "call_1_1", "content": "/b: 3 files"}


async def test_approving_runs_the_call_once_and_the_answer_follows() -> None:
    agent = echo_ops()
    (approval,) = (await agent.run_turn(ASK, session_id="s")).approvals
    answered = await agent.run_turn({"approvals": [approval.approve()]}, session_id="s")
    assert answered.status == "completed" and answered.approvals == ()
    assert answered.output == "echo (4 messages): wipe -> wiped /a; peek -> /b: 3 files"
    assert CALLS == ["peek /b", "wipe /a"]
    result = (await agent.ctxmgr.aget_session_context("s"))[3]
    assert result["tool_call_id"] == "call_1_0" and result["content"] == "wiped /a"
    assert result["metadata"] == {"approval": {"id": approval.id, "approved": True, "reason": None}}
    with pytest.raises(ApprovalStateError, match="already answered") as again:
        await agent.run_turn({"approvals": [approval.approve()]}, session_id="s")
    assert again.value.http_status == 409
    with pytest.raises(ApprovalNotFoundError, match="no pending approval 'apr_nope'"):
        await agent.run_turn({"approvals": [{"id": "apr_nope", "approved": True}]}, session_id="s")
    assert CALLS == ["peek /b", "wipe /a"]  # exactly once


async def test_a_denial_reaches_the_model_with_its_reason() -> None:
    agent, provider = scripted_ops(
        Say(["Let me clean up."], calls=[("wipe", {"path": "/a"})]),
        Say(["Understood, I left it."]),
    )
    (approval,) = (await agent.run_turn("clean /a", session_id="s")).approvals
    answered = await agent.run_turn({"approvals": [approval.deny("it is prod")]}, session_id="s")
    assert answered.output == "Understood, I left it." and CALLS == []
    denial = provider.requests[-1][-1]
    assert denial["role"] == "tool" and denial["tool_call_id"] == "call_0_0"
    assert json.loads(denial["content"]) == {
        "error": "not approved: a person denied this call; it did not run; reason: it is prod"
    }
    assert "metadata" not in denial  # what only clients read never reaches the model


async def test_answers_for_some_calls_leave_the_turn_waiting_for_the_rest() -> None:
    agent, provider = scripted_ops(
        Say(calls=[("wipe", {"path": "/a"}), ("wipe", {"path": "/b"})]),
        Say(["Done."]),
    )
    first, second = (await agent.run_turn("clean both", session_id="s")).approvals
    partly = await agent.run_turn({"approvals": [second.approve()]}, session_id="s")
    assert partly.status == "awaiting_approval" and partly.approvals == (first,)
    assert CALLS == ["wipe /b"] and len(provider.requests) == 1  # no model call yet
    done = await agent.run_turn({"approvals": [first.deny()]}, session_id="s")
    assert done.output == "Done." and CALLS == ["wipe /b"]
    results = [m for m in provider.requests[-1] if m["role"] == "tool"]
    assert [r["tool_call_id"] for r in results] == ["call_0_0", "call_0_1"]  # the calls' order


async def test_a_new_message_closes_what_waits_and_the_model_is_told() -> None:
    agent, provider = scripted_ops(
        Say(calls=[("wipe", {"path": "/a"})]), Say(["Fine, something else then."])
    )
    (approval,) = (await agent.run_turn("clean /a", session_id="s")).approvals
    assert await agent.run("never mind", session_id="s") == "Fine, something else then."
    sent = provider.requests[-1]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "user"]
    assert "the conversation moved on" in sent[2]["content"]
    with pytest.raises(ApprovalStateError, match="already answered \\(answered without"):
        await agent.run_turn({"approvals": [approval.approve()]}, session_id="s")
    assert CALLS == []


async def test_an_expired_approval_is_refused_and_the_model_told_next_time() -> None:
    agent, provider = scripted_ops(
        Say(calls=[("wipe", {"path": "/a"})]), Say(["Too late, then."]), timeout=0.2
    )
    (approval,) = (await agent.run_turn("clean /a", session_id="s")).approvals
    assert approval.expires_at is not None
    await wait_until(lambda: datetime.now(UTC) >= approval.expires_at, what="the expiry")  # type: ignore[operator]
    with pytest.raises(ApprovalStateError, match="expired at") as late:
        await agent.run_turn({"approvals": [approval.approve()]}, session_id="s")
    assert late.value.error_type == "approval_expired" and CALLS == []
    assert await agent.run("anything?", session_id="s") == "Too late, then."
    assert "the approval expired" in provider.requests[-1][2]["content"]


async def test_a_model_failure_after_an_approved_call_keeps_its_result() -> None:
    """The call happened: a retry must not run it again."""
    agent, _ = scripted_ops(
        Say(calls=[("wipe", {"path": "/a"})]),
        Say(fail="the model is down"),
        Say(["Back: it was wiped."]),
    )
    (approval,) = (await agent.run_turn("clean /a", session_id="s")).approvals
    with pytest.raises(ProviderError, match="the model is down"):
        await agent.run_turn({"approvals": [approval.approve()]}, session_id="s")
    assert CALLS == ["wipe /a"]
    stored = await agent.ctxmgr.aget_session_context("s")
    assert stored[-1]["content"] == "wiped /a"
    with pytest.raises(ApprovalStateError, match="already answered \\(approved\\)"):
        await agent.run_turn({"approvals": [approval.approve()]}, session_id="s")
    assert await agent.run("and?", session_id="s") == "Back: it was wiped."
    assert CALLS == ["wipe /a"]


async def test_streamed_turns_request_the_approval_and_answer_it() -> None:
    agent = echo_ops()
    events = [e async for e in agent.run_stream(ASK, session_id="s")]
    kinds = [e["type"] for e in events]
    request = next(e for e in events if e["type"] == "tool-approval-request")
    assert kinds.index("tool-approval-request") > kinds.index("tool-input-available")
    assert request["toolCallId"] == "call_1_0" and request["approvalId"].startswith("apr_")
    assert [e["toolCallId"] for e in events if e["type"] == "tool-output-available"] == ["call_1_1"]
    finish = events[-1]
    assert finish["finishReason"] == "tool-calls"
    assert [a["id"] for a in finish["messageMetadata"]["approvals"]] == [request["approvalId"]]
    answer = {"approvals": [{"id": request["approvalId"], "approved": False}]}
    events = [e async for e in agent.run_stream(answer, session_id="s")]
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["start", "tool-output-denied", "start-step"]
    assert events[1]["toolCallId"] == "call_1_0" and CALLS == ["peek /b"]
    assert events[-1]["finishReason"] == "stop" and "approvals" not in events[-1]["messageMetadata"]


async def test_without_a_session_a_call_that_needs_approval_is_not_run() -> None:
    for agent in (echo_ops(), echo_ops(context_manager=StatelessContextManager())):
        answer = await agent.run(ASK)
        assert "needs a person's approval" in answer and CALLS == ["peek /b"]
        CALLS.clear()
    streamed = [e async for e in echo_ops().run_stream(ASK)]
    assert "tool-output-denied" in [e["type"] for e in streamed]
    with pytest.raises(InvalidInputError, match="give its session_id"):
        await echo_ops().run_turn({"approvals": [{"id": "apr_x", "approved": True}]})
    with pytest.raises(InvalidInputError, match=r"approvals\[0\]\.approved must be true or false"):
        await echo_ops().run_turn({"approvals": [{"id": "apr_x", "approved": "yes"}]}, "s")


async def test_two_answers_at_once_run_the_call_once() -> None:
    agent = echo_ops()
    (approval,) = (await agent.run_turn(ASK, session_id="s")).approvals
    answer = {"approvals": [approval.approve()]}
    outcomes = await asyncio.gather(
        agent.run_turn(answer, session_id="s"),
        agent.run_turn(answer, session_id="s"),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["ApprovalStateError", "TurnResult"]
    assert CALLS == ["peek /b", "wipe /a"]
