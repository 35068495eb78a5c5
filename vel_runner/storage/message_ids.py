"""The memory store's index from a stored message's ``id`` to the session holding it.

An id stays with the session that stored it first, for as long as that session holds it: a
later message with the same id in another session (a client that sends a response's id as
its own, a copy of a history) never re-points it, so a response id keeps leading to the
session that answered it. When the holder's message goes, so does the entry.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..messages import Message

Key = tuple[str, str]


class MessageIds:
    """``id -> (agent_id, session_id)``, first holder first."""

    __slots__ = ("_keys",)

    def __init__(self) -> None:
        self._keys: dict[str, Key] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, message_id: str) -> Key | None:
        return self._keys.get(message_id)

    def add(self, messages: Iterable[Message], key: Key) -> None:
        """Index the ids of ``messages``, stored in session ``key``, that no session holds."""
        keys = self._keys
        for message in messages:
            message_id = message.get("id")
            if isinstance(message_id, str):
                keys.setdefault(message_id, key)

    def remove(self, messages: Iterable[Message], key: Key) -> None:
        """``messages`` left session ``key``: drop the entries that pointed there."""
        keys = self._keys
        for message in messages:
            message_id = message.get("id")
            if isinstance(message_id, str) and keys.get(message_id) == key:
                del keys[message_id]
