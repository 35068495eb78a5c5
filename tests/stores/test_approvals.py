"""Tool approval, the storage side: a pending call is an assistant ``tool_calls`` message with
``metadata.approvals`` and no result yet, in the session itself; answers are ``tool`` results
appended after it. The policy over message lists (pending, settling answers, closing what
nobody answered) and both stores listing the pending approvals of their live sessions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from helpers.approvals import waiting_step
from helpers.waiting import wait_until

from vel_runner.approvals import (
    ApprovalAnswer,
    PendingApproval,
    close_pending,
    pending,
    request_metadata,
    settle,
)
from vel_runner.errors import (
    ApprovalNotFoundError,
    ApprovalStateError,
    InvalidInputError,
)
from vel_runner.storage import SessionStore, create_store
from vel_runner.storage.base import ApprovalIndex
from vel_runner.tools.base import ToolCall, ToolSpec

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SPECS = {
    "wipe": ToolSpec("wipe", "", {}, approval=True, approval_timeout=600),
    "drop": ToolSpec("drop", "", {}, approval=True),
    "peek": ToolSpec("peek", "", {}),
}


def step(*calls: ToolCall) -> list[dict]:
    return waiting_step(list(calls), SPECS, now=NOW)


WIPE = ToolCall("call_1", "wipe", '{"path": "/tmp/x"}')
DROP = ToolCall("call_2", "drop", '{"table": "t"}')
PEEK = ToolCall("call_3", "peek", "{}")


def test_only_calls_of_tools_that_need_approval_are_pending() -> None:
    history = step(WIPE, PEEK, DROP)
    entries = history[1]["metadata"]["approvals"]
    assert [e["tool_call_id"] for e in entries] == ["call_1", "call_2"]
    assert all(e["id"].startswith("apr_") for e in entries)
    assert entries[0]["expires_at"] == (NOW + timedelta(minutes=10)).isoformat()
    assert entries[1]["expires_at"] is None  # as long as the session lives
    waiting = pending(history)
    assert [(a.tool, a.input) for a in waiting] == [
        ("wipe", {"path": "/tmp/x"}),
        ("drop", {"table": "t"}),
    ]
    assert waiting[0].as_dict() == {
        "id": entries[0]["id"],
        "tool": "wipe",
        "input": {"path": "/tmp/x"},
        "tool_call_id": "call_1",
        "requested_at": NOW.isoformat(),
        "expires_at": entries[0]["expires_at"],
    }
    assert request_metadata([PEEK], SPECS, NOW) == []
    assert pending(step(PEEK)) == []


def test_answers_run_approved_calls_and_deny_the_others() -> None:
    history = step(WIPE, DROP, PEEK)
    wipe, drop = pending(history)
    settlement = settle(
        history, [ApprovalAnswer(wipe.id, True), ApprovalAnswer(drop.id, False, "too risky")], NOW
    )
    assert [(a.tool, answer.approved) for a, answer in settlement.run] == [("wipe", True)]
    assert settlement.remaining == []
    (denial,) = settlement.results
    assert denial["tool_call_id"] == "call_2"
    assert json.loads(denial["content"]) == {
        "error": "not approved: a person denied this call; it did not run; reason: too risky"
    }
    assert denial["metadata"] == {
        "approval": {"id": drop.id, "approved": False, "reason": "too risky"}
    }
    # answering one of two leaves the other pending
    partial = settle(history, [ApprovalAnswer(drop.id, False)], NOW)
    assert partial.run == [] and [a.id for a in partial.remaining] == [wipe.id]


def test_unknown_answered_and_expired_approvals_are_refused_by_name() -> None:
    history = step(WIPE, DROP)
    wipe, drop = pending(history)
    with pytest.raises(ApprovalNotFoundError, match="no pending approval 'apr_nope'") as missing:
        settle(history, [ApprovalAnswer("apr_nope", True)], NOW)
    assert (missing.value.http_status, missing.value.error_type) == (404, "approval_not_found")
    answered = [*history, *settle(history, [ApprovalAnswer(drop.id, False)], NOW).results]
    with pytest.raises(ApprovalStateError, match=f"approval '{drop.id}' was already answered"):
        settle(answered, [ApprovalAnswer(drop.id, True)], NOW)
    late = NOW + timedelta(minutes=11)
    with pytest.raises(ApprovalStateError, match=f"approval '{wipe.id}' \\(wipe\\) expired") as e:
        settle(history, [ApprovalAnswer(wipe.id, True)], late)
    assert (e.value.http_status, e.value.error_type) == (409, "approval_expired")
    # nothing is settled when one answer of several is refused
    with pytest.raises(ApprovalStateError):
        settle(history, [ApprovalAnswer(drop.id, True), ApprovalAnswer(wipe.id, True)], late)
    # answering the live one closes the expired one the person left unanswered
    settled = settle(history, [ApprovalAnswer(drop.id, True)], late)
    assert [a.id for a, _ in settled.run] == [drop.id] and settled.remaining == []
    (lapsed,) = settled.results
    assert lapsed["tool_call_id"] == "call_1" and "expired" in lapsed["content"]


def test_what_nobody_answered_is_closed_when_the_session_runs_again() -> None:
    history = step(WIPE, DROP)
    later = NOW + timedelta(minutes=11)  # wipe expired, drop has no timeout
    (_, expired), (_, passed) = close_pending(history, later)
    assert "the approval expired" in json.loads(expired["content"])["error"]
    assert "the conversation moved on" in json.loads(passed["content"])["error"]
    assert pending([*history, expired, passed]) == []
    assert close_pending([*history, expired, passed], later) == []


def test_answers_are_checked_naming_the_place_at_fault() -> None:
    assert ApprovalAnswer.parse_list([{"id": "a", "approved": True, "reason": ""}]) == [
        ApprovalAnswer("a", True, None)
    ]
    bad = {
        "approvals must be a non-empty list": [],
        r"approvals\[0\] must be an object": ["a"],
        r"approvals\[0\].approved must be true or false": [{"id": "a", "approved": "yes"}],
        r"approvals\[0\].id must be": [{"approved": True}],
        r"approvals\[0\] has unknown keys \['approve'\]": [{"id": "a", "approve": True}],
        r"approvals\[0\].reason must be a string": [{"id": "a", "approved": False, "reason": 1}],
        r"approvals\[1\]: approval 'a' is answered twice": [
            {"id": "a", "approved": True},
            {"id": "a", "approved": False},
        ],
        r"approvals\[0\].reason contains a NUL": [{"id": "a", "approved": False, "reason": "\0"}],
    }
    for message, raw in bad.items():
        with pytest.raises(InvalidInputError, match=message):
            ApprovalAnswer.parse_list(raw)


@pytest.fixture(params=["memory", "database"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    if request.param == "memory":
        s = create_store("memory")
    else:
        dsn = request.getfixturevalue("fresh_postgres_dsn")
        s = create_store("database", dsn=dsn, max_size=2, timeout=2.0)
    await s.open()
    yield s
    await s.close()


async def test_both_stores_list_pending_approvals_of_live_sessions(store: SessionStore) -> None:
    assert isinstance(store, ApprovalIndex)
    await store.set("ops", "s1", step(WIPE, PEEK, DROP))
    await store.set("ops", "s2", step(DROP), ttl=3600)
    await store.set("ops", "gone", step(WIPE), ttl=0.01)
    await store.set("other", "s1", step(WIPE))
    await store.set("ops", "plain", [{"role": "user", "content": "hi"}])

    async def expired() -> bool:
        return await store.get("ops", "gone") is None

    await wait_until(expired, what="session 'gone' to expire")
    found = await store.pending_approvals()
    assert [(p.agent_id, p.session_id, p.approval.tool) for p in found] == [
        ("ops", "s1", "wipe"),
        ("ops", "s1", "drop"),
        ("ops", "s2", "drop"),
        ("other", "s1", "wipe"),
    ]  # "gone" expired with its session
    s2 = found[2]
    assert isinstance(s2, PendingApproval) and s2.session_expires_at is not None
    assert s2.as_dict()["expires_at"] == s2.session_expires_at.isoformat()
    assert s2.as_dict()["agent_id"] == "ops" and s2.as_dict()["session_id"] == "s2"
    assert [p.session_id for p in await store.pending_approvals("other")] == ["s1"]
    await store.clear("other", "s1")
    assert await store.pending_approvals("other") == []

    # an answer appended in a turn settles it; a new turn after it leaves nothing pending
    history = (await store.get("ops", "s1")).messages  # type: ignore[union-attr]
    wipe, drop = pending(history)
    settled = settle(history, [ApprovalAnswer(drop.id, False)], NOW)
    async with store.turn("ops", "s1") as turn:
        await turn.commit(settled.results)
    left = await store.pending_approvals("ops")
    assert [(p.session_id, p.approval.id) for p in left] == [
        ("s1", wipe.id),
        ("s2", s2.approval.id),
    ]
    async with store.turn("ops", "s1") as turn:
        closed = [message for _, message in close_pending(turn.history, NOW)]
        await turn.commit([*closed, {"role": "user", "content": "never mind"}])
    assert [p.session_id for p in await store.pending_approvals("ops")] == ["s2"]
