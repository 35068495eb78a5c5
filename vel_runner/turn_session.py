"""What a turn does with its session: hold it, build the model's request from it, store what
the turn added (trimming a window, folding what falls out of it into the summary), and store
what a stopped stream keeps. :class:`~vel_runner.turn.Turn` runs the loop between these.

:class:`TurnHost` is what a turn reads of its agent: its configuration, nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from .context import ContextManager, split_window, transcript_line
from .errors import InvalidInputError, TurnCancelledError
from .messages import Message, pinned_count
from .observe import hooks
from .providers.base import Provider, Usage
from .storage import UNCHANGED, SessionStore, SessionTurn
from .tools.results import check_results_continue
from .tools.toolbox import Toolbox
from .turn_options import TurnOptions

log = logging.getLogger("vel_runner.agent")

SUMMARY_INSTRUCTIONS = (
    "You keep a running summary of a conversation. Merge the previous summary (if any) and the "
    "new messages into one concise summary that keeps names, facts, decisions and open "
    "questions. Reply with the summary only."
)
CANCELLED = "the model call was cancelled; nothing was stored"


class TurnHost(Protocol):
    """What a turn reads of its agent (its configuration)."""

    id: str
    provider: Provider
    model_name: str
    instructions: str | None
    ttl: float | None
    toolbox: Toolbox
    max_steps: int
    ctxmgr: ContextManager
    store: SessionStore

    #: Has the store been opened (``open_store`` is due before the first turn on it)?
    store_open: bool

    async def open_store(self) -> None: ...


def being_cancelled() -> bool:
    """Is the running task being cancelled (by its owner, not by what it awaits)?"""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def cancelled() -> BaseException:
    """Our own cancellation propagates; a provider that cancelled itself is a typed error."""
    if being_cancelled():
        return asyncio.CancelledError()
    return TurnCancelledError(CANCELLED)


def hold(
    agent: TurnHost, step: hooks.AnyStep, session_id: str
) -> AbstractAsyncContextManager[SessionTurn]:
    """Hold the session for the turn (its read and write timed, when something observes)."""
    window = agent.ctxmgr.max_history
    if step is hooks.NO_STEP:
        return agent.store.turn(agent.id, session_id, window=window)
    return hooks.store_turn(step, agent.store, agent.id, session_id, window)


def stored_inputs(options: TurnOptions, inputs: list[Message]) -> list[Message]:
    """What a turn stores before what its run added: a client's earlier messages and the user
    message (or tool results); nothing new for a regenerate."""
    if options.regenerate:
        return []
    return [*options.history, *inputs] if options.history else inputs


def model_request(
    agent: TurnHost,
    run_id: str,
    session_id: str | None,
    inputs: list[Message],
    options: TurnOptions,
    held: SessionTurn | None,
) -> list[Message]:
    """The messages the model receives: the context manager's view of the history and this
    turn's new messages, in the model's form. Results of client tool calls must answer the
    calls the session awaits; a regenerate needs a last user message to answer."""
    history: Sequence[Message] = ()
    summary, view = None, None
    new: Sequence[Message] = [*options.history, *inputs] if options.history else inputs
    continues = inputs[-1].get("role") == "tool"  # client tool results, not a message
    if held is None:
        if continues:
            raise InvalidInputError("tool results continue a session: give a session_id")
    else:
        history, summary, view = held.history, held.summary, getattr(held, "view", None)
        if continues:
            check_results_continue(history, inputs)
        if options.regenerate:
            if not history or history[-1].get("role") != "user":
                raise InvalidInputError(
                    "nothing to regenerate: the session does not end with a user message"
                )
            new = ()
    instructions = agent.instructions
    if options.instructions:
        instructions = (
            f"{instructions}\n\n{options.instructions}" if instructions else options.instructions
        )
    return agent.ctxmgr.build_messages(
        run_id, session_id, instructions or None, history, summary, new, view
    )


async def commit(
    agent: TurnHost, held: SessionTurn, new: list[Message], usage: Usage | None
) -> None:
    """Store what the turn added (with its token usage); a window keeps its last messages,
    and ``summarize`` folds the ones that leave it into the running summary."""
    tokens = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
    window = agent.ctxmgr.max_history
    if window is None:
        await held.commit(new, ttl=agent.ttl, usage=tokens)
        return
    kept, dropped = split_window([*held.history, *new], window)
    summary = UNCHANGED
    if agent.ctxmgr.summarize and dropped:
        summary = await summarize(agent, held.summary, dropped)
    keep = len(kept) - pinned_count(kept)
    await held.commit(new, keep=keep, summary=summary, ttl=agent.ttl, usage=tokens)


async def summarize(agent: TurnHost, previous: str | None, dropped: Sequence[Message]) -> str:
    """Fold the messages that left the window into the running summary (same model)."""
    transcript = "\n".join(transcript_line(m) for m in dropped)
    request: list[Message] = [{"role": "system", "content": SUMMARY_INSTRUCTIONS}]
    if previous:
        request.append({"role": "user", "content": f"Previous summary:\n{previous}"})
    request.append({"role": "user", "content": f"New messages:\n{transcript}"})
    try:
        reply = await agent.provider.complete(request, model=agent.model_name, settings={})
    except asyncio.CancelledError:
        raise cancelled() from None
    return reply.text.strip()


async def keep_stopped(
    agent: TurnHost, held: SessionTurn, kept: list[Message], usage: Usage | None, run_id: str
) -> None:
    """Store what a stopped stream keeps (:mod:`vel_runner.turn_stop`); a second
    cancellation does not stop that, and a failure to store loses only the partial answer."""
    task = asyncio.ensure_future(commit(agent, held, kept, usage))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        pass  # cancelled again: the commit carries on by itself
    except Exception as exc:  # the stop wins; the partial answer is lost
        log.warning("could not store the interrupted answer %s: %s", run_id, exc)


class _NoSession:
    """The session a turn without one holds: nothing."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc_info: object) -> None:
        return None


NO_SESSION = _NoSession()


class closing:
    """``aclosing`` for any async iterator a turn reads (a provider's stream is typed as an
    iterator): closed when the block ends, if it can be."""

    __slots__ = ("stream",)

    def __init__(self, stream: AsyncIterator[Any]) -> None:
        self.stream = stream

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc_info: object) -> None:
        close = getattr(self.stream, "aclose", None)
        if close is not None:
            await close()
