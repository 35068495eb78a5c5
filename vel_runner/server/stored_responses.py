"""Responses as they are stored: the answer behind a response id, the history up to it, and
deleting it.

A response is ``resp_<id>``, where ``id`` is the id of a stored assistant message (a turn's
answer is stored under its run id). Deleting it removes its turn — from the user message it
answered to the answer, tool steps included — through ``store.edit``: inside the session's
turn lock, from what is stored at that moment, so a turn that lands meanwhile is kept and a
retried DELETE removes nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..messages import Message
from ..protocols.responses import run_id_of
from .message_lookup import find_message

if TYPE_CHECKING:
    from ..storage import HistoryEdit, MessageRef, SessionStore
    from .state import ServerState


class ResponseGone(LookupError):
    """The response is not (or no longer) in its session."""


async def find_response(
    state: ServerState, response: str
) -> tuple[MessageRef, SessionStore, str] | None:
    """The session holding the answer behind a response id, its store and the answer's id."""
    answer_id = run_id_of(response)
    found = None if answer_id is None else await find_message(state, answer_id)
    return None if found is None or answer_id is None else (*found, answer_id)


def answer_at(messages: Sequence[Message], answer_id: str) -> int | None:
    """Where the answer ``answer_id`` is in ``messages`` (an assistant message), if it is."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("id") == answer_id and message.get("role") == "assistant":
            return index
    return None


def history_upto(messages: Sequence[Message], answer_id: str) -> list[Message] | None:
    """The messages up to and including the answer (``None``: it is not there)."""
    at = answer_at(messages, answer_id)
    return None if at is None else list(messages[: at + 1])


async def stored_history(
    store: SessionStore, ref: MessageRef, answer_id: str
) -> list[Message] | None:
    """The session's messages up to and including the answer, as stored now."""
    record = await store.get(ref.agent_id, ref.session_id)
    return None if record is None else history_upto(record.messages, answer_id)


def without_response(answer_id: str) -> HistoryEdit:
    """The edit that deletes a response: its answer and everything back to the user message
    it answered (the turn's tool steps with it). Raises :class:`ResponseGone` when the answer
    is not stored (any more)."""

    def change(messages: list[Message]) -> list[Message]:
        at = answer_at(messages, answer_id)
        if at is None:
            raise ResponseGone(answer_id)
        start = at
        while start > 0 and messages[start].get("role") != "user":
            start -= 1
        if messages[start].get("role") != "user":
            start = at  # no user message before it: the answer alone goes
        return messages[:start] + messages[at + 1 :]

    return change
