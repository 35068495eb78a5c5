"""The model's view of a session's stored messages, kept beside them as they grow.

What a model receives differs from what a session stores in two ways: stored messages carry
keys only clients use (``id``, ``metadata``: :func:`~vel_runner.messages.for_model` drops
them), and a model refuses a tool call without its results right after it (a history that
is not *paired* goes through :func:`~vel_runner.context.pair_tool_results` first).

Doing both over the whole history on every turn costs time in proportion to the history. A
:class:`HistoryView` does them once per message instead: a store keeps one per session
(beside the messages, or in the PostgreSQL tail cache), extends it with each turn's new
messages, and drops it when the history is edited or trimmed. Alongside the model-form
messages it tracks whether the history is paired, so that a turn on a paired history (every
turn the agent itself stored) builds the model's request in one pass, without looking at the
earlier messages at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .messages import Message, for_model

#: The pairing state of a history: (call ids still awaiting their results, in order; paired
#: so far), where "paired" means every tool call so far had its results right after it, in
#: the calls' order, and no result came without its call.
Pairing = tuple[tuple[str, ...], bool]

PAIRED: Pairing = ((), True)


def pairing_after(state: Pairing, messages: Iterable[Message]) -> Pairing:
    """The pairing state once ``messages`` follow a history in ``state``."""
    pending, paired = state
    for message in messages:
        role = message.get("role")
        if role == "tool":
            if pending and pending[0] == message.get("tool_call_id"):
                pending = pending[1:]
            else:
                paired = False  # a result without its call, or out of the calls' order
            continue
        if pending:
            paired = False  # a call left without its result
            pending = ()
        calls = message.get("tool_calls") if role == "assistant" else None
        if calls:
            ids = tuple(call.get("id") for call in calls if isinstance(call, dict))
            if len(ids) != len(calls) or not all(isinstance(i, str) for i in ids):
                paired = False
            pending = tuple(i for i in ids if isinstance(i, str))
    return PAIRED if paired and not pending else (pending, paired)


def _may_pair(messages: Sequence[Message]) -> bool:
    """Might ``messages`` change a paired state (a call or a result among them)? (A loop,
    not ``any()``: no generator on every turn's path.)"""
    for message in messages:  # noqa: SIM110
        if message.get("role") == "tool" or "tool_calls" in message:
            return True
    return False


def is_paired(state: Pairing) -> bool:
    """Can a model take a history in ``state`` as it is (no call waits for its results)?"""
    return state[1] and not state[0]


def paired_after(state: Pairing, messages: Sequence[Message]) -> bool:
    """Is a history in ``state`` followed by ``messages`` paired? (A user message after a
    paired history, nearly every turn, is answered without a loop.)"""
    if state is PAIRED and len(messages) == 1 and messages[0].get("role") == "user":
        return True
    return is_paired(pairing_after(state, messages))


class HistoryView:
    """The model-form copy of a session's stored messages and their pairing state."""

    __slots__ = ("last", "messages", "pairing")

    def __init__(self, stored: Sequence[Message] = ()) -> None:
        self.messages: list[Message] = []
        self.pairing: Pairing = PAIRED
        self.last: Message | None = None  # the last stored message mirrored
        self.extend(stored)

    def extend(self, stored: Sequence[Message]) -> None:
        """Add messages the session stored after the ones already here."""
        if stored:
            self.messages.extend(map(for_model, stored))
            if self.pairing is not PAIRED or _may_pair(stored):
                self.pairing = pairing_after(self.pairing, stored)
            self.last = stored[-1]

    def mirrors(self, stored: Sequence[Message]) -> bool:
        """Is this the view of ``stored``, as far as a cheap check can tell (same length, same
        last message)? A store that edited its messages without telling the view fails it."""
        if len(stored) != len(self.messages):
            return False
        return not stored or stored[-1] is self.last

    def after(self, head: Sequence[Message]) -> HistoryView:
        """The view of ``head`` (leading system messages: pinned ones) followed by this one's
        messages."""
        joined = HistoryView()
        joined.messages = [*map(for_model, head), *self.messages]
        # pinned messages are system messages, which pair nothing: the state is this view's
        joined.pairing = self.pairing if pairing_after(PAIRED, head) is PAIRED else ((), False)
        joined.last = self.last if self.messages else (head[-1] if head else None)
        return joined

    def __len__(self) -> int:
        return len(self.messages)
