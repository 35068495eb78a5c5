"""Stored messages found by their ``id`` across the stores of the current config, and the rule
that keeps those ids unambiguous: no route stores a client's id that another session holds.

A response id (``resp_<id of the answer>``) leads to its session through the stores' message
indexes. A client that sent that id as one of its own message ids (Responses ``input[].id``,
a conversation's ``items``, a useChat message id, a session's messages) would otherwise put
a second holder in the index; a copy of a history (a branch from a response that is not the
latest) would too. Such messages are stored under a fresh id instead: the client's id names a
message of another session, and OpenAI gives items ids of its own as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..messages import Message, new_message_id
from ..storage import MessageIndex, MessageRef

if TYPE_CHECKING:
    from ..agent import Agent
    from ..storage import SessionStore
    from .state import ServerState


def index_stores(state: ServerState) -> list[SessionStore]:
    """The distinct stores of the current agents that index their messages by id."""
    stores: dict[int, SessionStore] = {}
    for agent in state.live.snapshot.agents.values():
        if isinstance(agent.store, MessageIndex):
            stores.setdefault(id(agent.store), agent.store)
    return list(stores.values())


async def find_message(
    state: ServerState, message_id: str
) -> tuple[MessageRef, SessionStore] | None:
    """The session of a current agent holding the message with this id, and its store."""
    agents = state.live.snapshot.agents
    for store in index_stores(state):
        assert isinstance(store, MessageIndex)
        ref = await store.find_message(message_id)
        if ref is not None and ref.agent_id in agents:
            return ref, store
    return None


async def unclaimed(
    state: ServerState, agent: Agent, session_id: str, messages: Sequence[Message]
) -> list[Message]:
    """``messages`` to store in ``agent``'s session ``session_id``, each id that another
    session already holds (in any store of the config) replaced with a fresh one."""
    ids = {m["id"] for m in messages if isinstance(m.get("id"), str)}
    if not ids:
        return list(messages)
    taken: set[str] = set()
    for store in index_stores(state):
        assert isinstance(store, MessageIndex)
        for message_id, ref in (await store.find_messages(ids)).items():
            ours = store is agent.store and (ref.agent_id, ref.session_id) == (agent.id, session_id)
            if not ours:
                taken.add(message_id)
    return [{**m, "id": new_message_id()} if m.get("id") in taken else m for m in messages]


async def unclaimed_id(
    state: ServerState, agent: Agent, session_id: str, message_id: str | None
) -> str | None:
    """:func:`unclaimed` for the id of one message about to be stored (``None``: none)."""
    if message_id is None:
        return None
    (message,) = await unclaimed(state, agent, session_id, [{"id": message_id}])
    return str(message["id"])
