"""Tool approval: a call that waits for a person, kept in the session itself.

Storage design (append-only, so both stores keep it with the writes they already do):

- When the model calls a tool whose spec says ``approval``, the call does not run. The turn
  stores, in its one commit, the assistant message with the ``tool_calls`` (the pending calls
  among them) and ``metadata.approvals``: one entry per pending call (``id``, ``tool_call_id``,
  ``tool``, ``requested_at``, ``expires_at``), followed by the results of that step's calls
  that needed no approval (they ran as usual). The turn then ends: no lock is held while a
  person thinks, and every process on the same database sees the same pending calls.
- An approval is *pending* while no ``tool`` message after its assistant message answers its
  ``tool_call_id``. Only the session's last assistant message can hold pending approvals:
  whatever runs next on the session settles them first.
- Answering appends the ``tool`` result, with ``metadata.approval`` (``id``, ``approved``,
  ``reason``): the tool's own result when approved, a denial the model reads otherwise. The
  answer takes the session's turn lock and checks, from what is stored at that moment, that the
  approval is still pending, so it runs exactly once however many processes answer at once.
- An approval expires at its tool's ``approval_timeout``, or with its session (the TTL). When
  the session next runs, an expired approval, or one that a new user message passed by,
  becomes a result saying so (the call did not run), and the model is told.

This module is the policy over plain message lists, with no I/O: the stores list pending
approvals with :func:`pending`, the turn writes what :func:`request_metadata`,
:func:`settle` and :func:`close_pending` return.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from .errors import ApprovalNotFoundError, ApprovalStateError, InvalidInputError
from .messages import Message, check_text

if TYPE_CHECKING:  # the stores import this module: it stays free of the tools package
    from .tools.base import ToolCall, ToolSpec

#: What the model reads for a call a person denied (the reason, when given, is added).
DENIED = "not approved: a person denied this call; it did not run"
EXPIRED = "not approved: the approval expired before anyone answered; the call did not run"
PASSED_BY = (
    "not approved: the conversation moved on (a new message) before anyone answered; "
    "the call did not run"
)
MAX_REASON_CHARS = 2000


@dataclass(frozen=True, slots=True)
class Approval:
    """One pending call: what a person is asked to approve."""

    id: str
    tool_call_id: str
    tool: str
    #: The arguments as the model wrote them (JSON text).
    arguments: str
    requested_at: datetime
    #: When it stops waiting (``None``: as long as its session lives).
    expires_at: datetime | None = None

    @property
    def input(self) -> Any:
        """The arguments as JSON (the raw text when the model wrote invalid JSON)."""
        return self.call.parsed_input()

    @property
    def call(self) -> ToolCall:
        from .tools.base import ToolCall

        return ToolCall(self.tool_call_id, self.tool, self.arguments)

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def approve(self, reason: str | None = None) -> dict[str, Any]:
        """The answer that runs the call (for ``run_turn({"approvals": [...]})``)."""
        return {"id": self.id, "approved": True, "reason": reason}

    def deny(self, reason: str | None = None) -> dict[str, Any]:
        """The answer that refuses the call (the model reads the reason)."""
        return {"id": self.id, "approved": False, "reason": reason}

    def as_dict(self) -> dict[str, Any]:
        """The API's shape (``approvals`` of a run awaiting approval)."""
        return {
            "id": self.id,
            "tool": self.tool,
            "input": self.input,
            "tool_call_id": self.tool_call_id,
            "requested_at": self.requested_at.isoformat(),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class PendingApproval:
    """A pending approval and where it waits (what ``GET /v1/approvals`` lists)."""

    agent_id: str
    session_id: str
    approval: Approval
    #: When the session itself expires (and the approval with it).
    session_expires_at: datetime | None = None

    @property
    def expires_at(self) -> datetime | None:
        times = [t for t in (self.approval.expires_at, self.session_expires_at) if t is not None]
        return min(times) if times else None

    def as_dict(self) -> dict[str, Any]:
        expires = self.expires_at
        return {
            **self.approval.as_dict(),
            "agent_id": self.agent_id,
            "session_id": self.session_id,
            "expires_at": None if expires is None else expires.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ApprovalAnswer:
    """A person's answer to one approval."""

    id: str
    approved: bool
    reason: str | None = None

    @classmethod
    def parse_list(cls, raw: object) -> list[ApprovalAnswer]:
        """``[{"id", "approved", "reason"?}, ...]`` checked, each error naming its place."""
        if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)) or not raw:
            raise InvalidInputError("approvals must be a non-empty list of {id, approved, reason}")
        answers: list[ApprovalAnswer] = []
        seen: set[str] = set()
        for index, item in enumerate(raw):
            where = f"approvals[{index}]"
            if not isinstance(item, Mapping):
                raise InvalidInputError(f"{where} must be an object {{id, approved, reason}}")
            unknown = set(item) - {"id", "approved", "reason"}
            if unknown:
                raise InvalidInputError(f"{where} has unknown keys {sorted(map(str, unknown))}")
            answer_id, approved, reason = item.get("id"), item.get("approved"), item.get("reason")
            if not isinstance(answer_id, str) or not answer_id:
                raise InvalidInputError(f"{where}.id must be the approval's id (a string)")
            if not isinstance(approved, bool):
                raise InvalidInputError(f"{where}.approved must be true or false")
            if reason is not None and not isinstance(reason, str):
                raise InvalidInputError(f"{where}.reason must be a string")
            if reason is not None:
                if len(reason) > MAX_REASON_CHARS:
                    raise InvalidInputError(
                        f"{where}.reason is {len(reason)} characters; the limit is "
                        f"{MAX_REASON_CHARS}"
                    )
                check_text(reason, f"{where}.reason")
            if answer_id in seen:
                raise InvalidInputError(f"{where}: approval {answer_id!r} is answered twice")
            seen.add(answer_id)
            answers.append(cls(answer_id, approved, reason or None))
        return answers


@dataclass(frozen=True, slots=True)
class Settlement:
    """What answering does: the approved calls to run, the calls that will not run (denied,
    or expired unanswered) with the result the model reads for each, and the approvals still
    pending afterwards (the turn ends again while there are any)."""

    run: list[tuple[Approval, ApprovalAnswer]]
    closed: list[tuple[Approval, Message]]
    remaining: list[Approval]

    @property
    def results(self) -> list[Message]:
        """The ``tool`` messages of the calls that will not run."""
        return [message for _, message in self.closed]


def new_approval_id() -> str:
    return f"apr_{uuid4().hex}"


def request_metadata(
    calls: Sequence[ToolCall], specs: Mapping[str, ToolSpec], now: datetime
) -> list[dict[str, Any]]:
    """``metadata.approvals`` of an assistant message: one entry per call whose tool needs
    approval (empty: no call waits)."""
    entries = []
    for call in calls:
        spec = specs.get(call.name)
        if spec is None or not spec.approval:
            continue
        timeout = spec.approval_timeout
        expires = None if timeout is None else now + timedelta(seconds=timeout)
        entries.append(
            {
                "id": new_approval_id(),
                "tool_call_id": call.id,
                "tool": call.name,
                "requested_at": now.isoformat(),
                "expires_at": None if expires is None else expires.isoformat(),
            }
        )
    return entries


def awaits_approval(messages: Sequence[Message]) -> bool:
    """A cheap first look: could the session's tail hold a pending approval?"""
    if not messages:
        return False
    last = messages[-1]
    return last.get("role") == "tool" or bool(last.get("tool_calls"))


def pending(messages: Sequence[Message]) -> list[Approval]:
    """The approvals still waiting at the end of ``messages`` (a session's history)."""
    index, answered = _tail(messages)
    if index < 0:
        return []
    return [a for a in approvals_in(messages[index]) if a.tool_call_id not in answered]


def settle(
    messages: Sequence[Message], answers: Sequence[ApprovalAnswer], now: datetime
) -> Settlement:
    """Match ``answers`` with the session's pending approvals, as stored now.

    Raises :class:`ApprovalNotFoundError` for an id the session never had, and
    :class:`ApprovalStateError` for one already answered or expired (nothing runs then).
    """
    waiting = {a.id: a for a in pending(messages)}
    for answer in answers:
        approval = waiting.get(answer.id)
        if approval is None:
            raise _not_pending(messages, answer.id)
        if approval.expired(now):
            raise ApprovalStateError(
                f"approval {answer.id!r} ({approval.tool}) expired at "
                f"{approval.expires_at.isoformat() if approval.expires_at else '?'}; the call "
                "did not run (the model is told when the session next runs)",
                error_type="approval_expired",
            )
    run: list[tuple[Approval, ApprovalAnswer]] = []
    closed: list[tuple[Approval, Message]] = []
    for answer in answers:
        approval = waiting.pop(answer.id)
        if answer.approved:
            run.append((approval, answer))
        else:
            denial = f"{DENIED}; reason: {answer.reason}" if answer.reason else DENIED
            result = not_run_result(approval, denial, approved=False, reason=answer.reason)
            closed.append((approval, result))
    for approval in [a for a in waiting.values() if a.expired(now)]:  # unanswered, too late
        closed.append((approval, not_run_result(approval, EXPIRED, approved=False)))
        del waiting[approval.id]
    return Settlement(run, closed, list(waiting.values()))


def close_pending(messages: Sequence[Message], now: datetime) -> list[tuple[Approval, Message]]:
    """Every approval still pending when the session runs again without an answer (expired
    ones, and those a new message passed by), with the result the model reads for it."""
    return [
        (a, not_run_result(a, EXPIRED if a.expired(now) else PASSED_BY, approved=False))
        for a in pending(messages)
    ]


def not_run_result(
    approval: Approval, text: str, *, approved: bool, reason: str | None = None
) -> Message:
    """The ``tool`` message of a call that did not run."""
    return answered_result(approval, json.dumps({"error": text}), approved, reason)


def answered_result(
    approval: Approval, content: str, approved: bool, reason: str | None = None
) -> Message:
    """A ``tool`` message that answers ``approval`` (marked with how it was answered)."""
    return {
        "role": "tool",
        "tool_call_id": approval.tool_call_id,
        "content": content,
        "metadata": {"approval": {"id": approval.id, "approved": approved, "reason": reason}},
    }


def _tail(messages: Sequence[Message]) -> tuple[int, set[str]]:
    """The index of the last assistant message with ``tool_calls`` if only ``tool`` messages
    follow it (else -1), and the call ids those results answer."""
    answered: set[str] = set()
    index = len(messages) - 1
    while index >= 0 and messages[index].get("role") == "tool":
        answered.add(str(messages[index].get("tool_call_id")))
        index -= 1
    if index < 0 or not messages[index].get("tool_calls"):
        return -1, answered
    return index, answered


def approvals_in(message: Message) -> list[Approval]:
    """The approvals an assistant message asked for (answered or not)."""
    metadata = message.get("metadata")
    entries = metadata.get("approvals") if isinstance(metadata, Mapping) else None
    if not isinstance(entries, list):
        return []
    arguments = {
        str(call.get("id")): (call.get("function") or {}).get("arguments", "")
        for call in message.get("tool_calls") or ()
        if isinstance(call, Mapping)
    }
    found = []
    for entry in entries:
        try:
            expires = entry.get("expires_at")
            found.append(
                Approval(
                    str(entry["id"]),
                    str(entry["tool_call_id"]),
                    str(entry["tool"]),
                    str(arguments.get(str(entry["tool_call_id"]), "")),
                    datetime.fromisoformat(entry["requested_at"]),
                    None if expires is None else datetime.fromisoformat(expires),
                )
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a hand-edited entry that is not ours: not an approval
    return found


def _not_pending(messages: Sequence[Message], approval_id: str) -> Exception:
    """Why ``approval_id`` cannot be answered: answered before, or never this session's."""
    for message in reversed(messages):
        metadata = message.get("metadata")
        if not isinstance(metadata, Mapping):
            continue
        answer = metadata.get("approval")
        if isinstance(answer, Mapping) and answer.get("id") == approval_id:
            how = "approved" if answer.get("approved") else "answered without running it"
            return ApprovalStateError(
                f"approval {approval_id!r} was already answered ({how})",
                error_type="approval_answered",
            )
    return ApprovalNotFoundError(f"no pending approval {approval_id!r} in this session")


__all__ = [
    "Approval",
    "ApprovalAnswer",
    "PendingApproval",
    "Settlement",
    "answered_result",
    "approvals_in",
    "awaits_approval",
    "close_pending",
    "not_run_result",
    "pending",
    "request_metadata",
    "settle",
]
