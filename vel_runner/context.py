"""Context managers: how much of a session the model sees, and what the session keeps.

``ContextManager()`` sends the whole history; ``ContextManager(max_history=N)`` the last N
messages (and the session keeps at most N); ``summarize=True`` condenses what falls out of the
window into a running summary sent ahead of it; ``StatelessContextManager()`` sends only the
current message and stores nothing.

The agent prepares each turn's messages under a ``run_id`` and then asks
``messages_for_llm(run_id, session_id)`` for what the model receives, so a subclass (the spec's
``RAGContextManager``) can add to them; what it adds is never stored.

Bound to an agent's ``(store, agent_id, ttl)`` (``agent.ctxmgr``), a context manager is also
the handle on that agent's sessions: the spec's synchronous ``get_session_context`` /
``set_session_context`` / ``clear_session``, their awaitable twins (``a``-prefixed, for async
code: they never block the event loop), and the listing and cleanup the spec's cleanup
section needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .durations import MAX_AGE_SECONDS
from .errors import InvalidInputError
from .messages import Message, check_messages, check_session_id, for_model, pinned_count
from .model_view import HistoryView, paired_after
from .storage.base import HistoryEdit, SessionInfo, SessionRecord, SessionStore

SUMMARY_PREFIX = "Summary of the earlier conversation:\n"
#: The result a model sees for a stored call that has none (a crash, a hand-written session).
INTERRUPTED = '{"error": "interrupted: this tool call has no stored result"}'


def split_window(messages: Sequence[Message], size: int) -> tuple[list[Message], list[Message]]:
    """Split ``messages`` into (kept, dropped) for a window of ``size`` messages.

    Leading system messages are pinned (always kept, not counted). The window never starts on
    a tool result whose call fell out of it: such orphans are dropped too.
    """
    pinned = pinned_count(messages)
    body = messages[pinned:]
    start = max(0, len(body) - size)
    while start < len(body) and body[start].get("role") == "tool":
        start += 1
    return [*messages[:pinned], *body[start:]], list(body[:start])


def pair_tool_results(messages: Sequence[Message]) -> list[Message]:
    """``messages`` as a model accepts them: each assistant ``tool_calls`` message directly
    followed by one result per call (in the calls' order; a missing one becomes a synthetic
    "interrupted" result), and no ``tool`` message without its call."""
    if not any(m.get("role") == "tool" or m.get("tool_calls") for m in messages):
        return list(messages)
    out: list[Message] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        index += 1
        if message.get("role") == "tool":
            continue  # its call is not right before it: a model would refuse it
        out.append(message)
        calls = message.get("tool_calls") if message.get("role") == "assistant" else None
        if not calls:
            continue
        ids = [str(call.get("id")) for call in calls if isinstance(call, dict)]
        results: dict[str, Message] = {}
        while index < len(messages) and messages[index].get("role") == "tool":
            result = messages[index]
            call_id = str(result.get("tool_call_id"))
            if call_id in ids and call_id not in results:
                results[call_id] = result
            index += 1
        for call_id in ids:
            out.append(
                results.get(call_id)
                or {"role": "tool", "tool_call_id": call_id, "content": INTERRUPTED}
            )
    return out


def transcript_line(message: Message) -> str:
    """One message as a line of the text a summary is made from (tool calls included)."""
    role = message.get("role")
    content = message.get("content")
    text = content if isinstance(content, str) else ("" if content is None else str(content))
    for call in message.get("tool_calls") or ():
        function = (call.get("function") or {}) if isinstance(call, dict) else {}
        text += f" [called {function.get('name')}({function.get('arguments', '')})]"
    return f"{role}: {text.strip()}"


class ContextManager:
    """Full history by default; a sliding window with ``max_history``; optional summaries."""

    #: True for context managers whose turns neither read nor write the session.
    stateless = False

    def __init__(self, max_history: int | None = None, summarize: bool = False) -> None:
        if max_history is not None and (
            isinstance(max_history, bool) or not isinstance(max_history, int) or max_history < 1
        ):
            raise InvalidInputError(
                f"max_history must be a positive integer or None, got {max_history!r}"
            )
        if not isinstance(summarize, bool):
            raise InvalidInputError(f"summarize must be True or False, got {summarize!r}")
        if summarize and max_history is None:
            raise InvalidInputError(
                "summarize=True needs max_history: the summary condenses the messages that "
                "fall out of that window (try ContextManager(max_history=20, summarize=True))"
            )
        self.max_history = max_history
        self.summarize = summarize
        self._prepared: dict[str, list[Message]] = {}
        self._binding: tuple[SessionStore, str, float | None] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(max_history={self.max_history}, summarize={self.summarize})"

    @property
    def mode(self) -> str:
        """``full``, ``window``, ``summarize`` or ``stateless`` (for listings and the API)."""
        if self.stateless:
            return "stateless"
        if self.max_history is None:
            return "full"
        return "summarize" if self.summarize else "window"

    # -- the hook subclasses override ------------------------------------------------------
    def messages_for_llm(self, run_id: str, session_id: str | None = None) -> list[Message]:
        """The messages the model receives for run ``run_id``: a fresh list the caller may edit."""
        return list(self._prepared.get(run_id, ()))

    # -- used by the agent -----------------------------------------------------------------
    def build_messages(
        self,
        run_id: str,
        session_id: str | None,
        instructions: str | None,
        history: Sequence[Message],
        summary: str | None,
        new: Sequence[Message],
        view: HistoryView | None = None,
    ) -> list[Message]:
        """What the model receives for one turn, in the model's form: the instructions, the
        summary, the window of ``history`` + ``new`` (this turn's messages), then the
        ``messages_for_llm`` hook.

        ``view`` is the store's model-form copy of ``history`` (:mod:`vel_runner.model_view`),
        when it keeps one: with the full history and nothing to pair, the request is built
        in one pass without looking at the history's messages. The prepared messages live
        only for the hook's call, under ``run_id``, so concurrent turns of one agent never
        see each other's.
        """
        messages: list[Message] = []
        if instructions:
            messages.append({"role": "system", "content": instructions})
        if summary:
            messages.append({"role": "system", "content": SUMMARY_PREFIX + summary})
        if self.max_history is None and view is not None and paired_after(view.pairing, new):
            messages.extend(view.messages)
            for message in new:
                messages.append(for_model(message))
        else:
            body = [*history, *new]
            if self.max_history is not None:
                body = split_window(body, self.max_history)[0]
            messages.extend(map(for_model, body))
            messages = pair_tool_results(messages)
        if (
            type(self).messages_for_llm is ContextManager.messages_for_llm
            and "messages_for_llm" not in self.__dict__
        ):
            return messages  # not overridden: the prepared messages are the request
        self._prepared[run_id] = messages
        try:
            return [for_model(m) for m in self.messages_for_llm(run_id, session_id)]
        finally:
            self._prepared.pop(run_id, None)

    def bind(self, store: SessionStore, agent_id: str, ttl: float | None) -> None:
        """Attach to one agent's sessions; a second, different agent is refused."""
        binding = (store, agent_id, ttl)
        if self._binding is not None and (
            self._binding[0] is not store or self._binding[1:] != binding[1:]
        ):
            raise InvalidInputError(
                f"this {type(self).__name__} already belongs to agent {self._binding[1]!r}; "
                "give each agent its own context manager"
            )
        self._binding = binding

    @property
    def _store(self) -> tuple[SessionStore, str]:
        if self._binding is None:
            raise InvalidInputError(
                "this context manager is not attached to an agent yet: pass it as "
                "Agent(context_manager=...) and use agent.ctxmgr"
            )
        return self._binding[0], self._binding[1]

    # -- session operations: synchronous, as in the spec -----------------------------------
    def get_session_context(self, session_id: str) -> list[Message]:
        """The session's stored messages (``[]`` when it does not exist or has expired)."""
        store, agent_id = self._store
        record = store.get_sync(agent_id, check_session_id(session_id))
        return record.messages if record else []

    def set_session_context(self, session_id: str, messages: Sequence[Message]) -> None:
        """Replace the session's messages (e.g. loaded from an external source)."""
        store, agent_id = self._store
        checked = check_messages(messages)
        store.set_sync(agent_id, check_session_id(session_id), checked, ttl=self._ttl)

    def clear_session(self, session_id: str) -> bool:
        """Delete the session; ``True`` when there was one."""
        store, agent_id = self._store
        return store.clear_sync(agent_id, check_session_id(session_id))

    def list_sessions(self, inactive_for: float | None = None) -> list[SessionInfo]:
        """This agent's live sessions (optionally only those idle for ``inactive_for`` s)."""
        store, agent_id = self._store
        return store.list_sync(agent_id, inactive_for=inactive_for)

    def get_inactive_sessions(
        self, max_age_hours: float | None = None, *, max_age_seconds: float | None = None
    ) -> list[str]:
        """Ids of sessions not updated for ``max_age_hours`` (or ``max_age_seconds``)."""
        age = age_seconds(max_age_hours, max_age_seconds)
        return [info.session_id for info in self.list_sessions(inactive_for=age)]

    def delete_inactive_sessions(
        self, max_age_hours: float | None = None, *, max_age_seconds: float | None = None
    ) -> int:
        """Delete sessions idle for longer than the age (and expired ones); count them."""
        store, agent_id = self._store
        return store.delete_inactive_sync(age_seconds(max_age_hours, max_age_seconds), agent_id)

    # -- awaitable twins, for async code -----------------------------------------------------
    async def aget_session(self, session_id: str) -> SessionRecord | None:
        """The whole session (messages, summary, times) or ``None``."""
        store, agent_id = self._store
        return await store.get(agent_id, check_session_id(session_id))

    async def aget_session_context(self, session_id: str) -> list[Message]:
        record = await self.aget_session(session_id)
        return record.messages if record else []

    async def aset_session_context(self, session_id: str, messages: Sequence[Message]) -> None:
        store, agent_id = self._store
        checked = check_messages(messages)
        await store.set(agent_id, check_session_id(session_id), checked, ttl=self._ttl)

    async def aedit_session(self, session_id: str, change: HistoryEdit) -> list[Message] | None:
        """Replace the session's messages with ``change(messages)`` inside its turn lock, from
        what is stored at that moment (``SessionStore.edit``); what ``change`` returns is
        checked as :meth:`set_session_context` checks messages. ``None``: no such session."""
        store, agent_id = self._store

        def checked(messages: list[Message]) -> list[Message]:
            return check_messages(change(messages))

        return await store.edit(agent_id, check_session_id(session_id), checked, ttl=self._ttl)

    async def aclear_session(self, session_id: str) -> bool:
        store, agent_id = self._store
        return await store.clear(agent_id, check_session_id(session_id))

    async def alist_sessions(self, inactive_for: float | None = None) -> list[SessionInfo]:
        store, agent_id = self._store
        return await store.list(agent_id, inactive_for=inactive_for)

    async def aget_inactive_sessions(
        self, max_age_hours: float | None = None, *, max_age_seconds: float | None = None
    ) -> list[str]:
        age = age_seconds(max_age_hours, max_age_seconds)
        return [info.session_id for info in await self.alist_sessions(inactive_for=age)]

    async def adelete_inactive_sessions(
        self, max_age_hours: float | None = None, *, max_age_seconds: float | None = None
    ) -> int:
        store, agent_id = self._store
        age = age_seconds(max_age_hours, max_age_seconds)
        return await store.delete_inactive(age, agent_id)

    @property
    def _ttl(self) -> float | None:
        return self._binding[2] if self._binding is not None else None


class StatelessContextManager(ContextManager):
    """Each call is independent: the model sees only the current message; nothing is stored."""

    stateless = True

    def __init__(self) -> None:
        super().__init__()

    def __repr__(self) -> str:
        return "StatelessContextManager()"


def age_seconds(hours: float | None, seconds: float | None) -> float:
    """The age of ``max_age_hours`` or ``max_age_seconds`` (exactly one given), in seconds."""
    if (hours is None) == (seconds is None):
        raise InvalidInputError("give exactly one of max_age_hours or max_age_seconds")
    name, age, unit = (
        ("max_age_hours", hours, 3600.0) if hours is not None else ("max_age_seconds", seconds, 1.0)
    )
    # a boolean is not an age (False would select every session), nor is NaN or infinity
    if (
        isinstance(age, bool)
        or not isinstance(age, (int, float))
        or not math.isfinite(age)
        or age < 0
    ):
        raise InvalidInputError(f"{name} must be a non-negative finite number, got {age!r:.40}")
    return min(float(age) * unit, MAX_AGE_SECONDS)
