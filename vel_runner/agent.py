"""``Agent``: one turn = load the session -> build what the model sees -> model steps and tool
calls (:mod:`vel_runner.tools.loop`) -> store the user message, the tool calls, their results
and the reply together.

Turns on one session are serialized by the store (``store.turn``), so every turn sees the one
before it; different sessions run in parallel. A turn that fails or is cancelled stores
nothing: the commit happens only once the whole reply is there. One exception, for chat
front ends that keep what they showed: a *streamed* turn whose consumer goes away (a stopped
answer, a closed tab) stores the user message with the part of the answer it delivered,
marked ``{"metadata": {"interrupted": true}}``.

A turn stores its answer under an ``id``, the turn's ``run_id`` (the ``start`` event's
``messageId``), so clients can name it to regenerate or continue from it; the user message
has the id the caller gave (``TurnOptions.user_id``: useChat's message id), if any.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncGenerator, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from . import events
from .context import ContextManager, split_window, transcript_line
from .errors import InvalidInputError, TurnCancelledError, VelError
from .messages import Message, check_session_id, check_text, for_model, pinned_count, user_text
from .observe import hooks
from .providers import Provider, create_provider
from .providers.base import Usage
from .storage import UNCHANGED, SessionStore, SessionTurn, resolve_store
from .tools.base import ToolCall
from .tools.loop import DEFAULT_MAX_STEPS, ToolLoop
from .tools.outcomes import DEFAULT_MAX_RESULT_CHARS
from .tools.results import check_results_continue, tool_result_messages
from .tools.toolbox import Toolbox
from .turn_options import PLAIN, Delivered, TurnOptions, answer_message

log = logging.getLogger(__name__)

#: Keys of ``Agent(model={...})`` that configure the provider client.
CLIENT_KEYS = frozenset({"api_key", "base_url", "timeout", "max_retries", "organization", "delay"})
#: Keys of ``Agent(model={...})`` passed to the model with every request.
GENERATION_KEYS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "stop",
        "presence_penalty",
        "frequency_penalty",
    }
)

#: Every agent of this process not yet closed, for process-wide cleanup helpers.
LIVE_AGENTS: weakref.WeakSet[Agent] = weakref.WeakSet()

SUMMARY_INSTRUCTIONS = (
    "You keep a running summary of a conversation. Merge the previous summary (if any) and the "
    "new messages into one concise summary that keeps names, facts, decisions and open "
    "questions. Reply with the summary only."
)


@dataclass(frozen=True, slots=True)
class TurnResult:
    """What one turn produced (``Agent.run`` returns only ``output``)."""

    output: str
    usage: Usage | None
    session_id: str | None
    run_id: str
    #: Calls of client-declared tools the model made (the run stopped for them).
    tool_calls: tuple[ToolCall, ...] = ()
    #: What the run added after the user message: tool calls, results, the answer.
    messages: tuple[Message, ...] = ()
    #: Why the model stopped, in the AI SDK's words (``stop``, ``length``, ``tool-calls``...).
    finish_reason: str = "stop"


def _cancelled() -> BaseException:
    """Our own cancellation propagates; a provider that cancelled itself is a typed error."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        return asyncio.CancelledError()
    return TurnCancelledError("the model call was cancelled; nothing was stored")


class Agent:
    """An LLM agent with sessions: ``await agent.run({'message': ...}, session_id=...)``."""

    def __init__(
        self,
        id: str,
        model: Mapping[str, Any] | None = None,
        session_storage: str | SessionStore = "memory",
        context_manager: ContextManager | None = None,
        *,
        instructions: str | None = None,
        generation: Mapping[str, Any] | None = None,
        ttl: float | None = None,
        provider: Provider | None = None,
        tools: Sequence[Any] = (),
        max_steps: int = DEFAULT_MAX_STEPS,
        parallel_tool_calls: bool = True,
        tool_concurrency: int = 4,
        max_result_chars: int = DEFAULT_MAX_RESULT_CHARS,
    ) -> None:
        if not isinstance(id, str) or not id.strip():
            raise InvalidInputError(f"agent id must be a non-empty string, got {id!r}")
        if not isinstance(model, Mapping):
            raise InvalidInputError(
                "model must be a dict like {'provider': 'openai', 'model': 'gpt-4o'}, "
                f"got {model!r:.80}"
            )
        unknown = set(model) - {"provider", "model"} - CLIENT_KEYS - GENERATION_KEYS
        if unknown:
            allowed = sorted({"provider", "model"} | CLIENT_KEYS | GENERATION_KEYS)
            raise InvalidInputError(f"unknown model keys {sorted(unknown)}; allowed: {allowed}")
        provider_name, model_name = model.get("provider"), model.get("model")
        if not isinstance(provider_name, str) or not provider_name:
            raise InvalidInputError("model['provider'] must name a provider, e.g. 'openai'")
        if not isinstance(model_name, str) or not model_name:
            raise InvalidInputError("model['model'] must name a model, e.g. 'gpt-4o'")
        if ttl is not None and (
            isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or ttl <= 0
        ):
            raise InvalidInputError(
                f"ttl must be a positive number of seconds or None, got {ttl!r}"
            )
        if instructions is not None and not isinstance(instructions, str):
            raise InvalidInputError("instructions must be a string")
        if instructions is not None:
            check_text(instructions, "instructions")
        if context_manager is not None and not isinstance(context_manager, ContextManager):
            raise InvalidInputError(
                f"context_manager must be a ContextManager, got {type(context_manager).__name__}"
            )

        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise InvalidInputError(f"max_steps must be a positive integer, got {max_steps!r}")
        if isinstance(tools, (str, bytes)) or not isinstance(tools, Sequence):
            raise InvalidInputError(f"tools must be a list, got {type(tools).__name__}")
        self.toolbox = Toolbox(
            tools,
            parallel=parallel_tool_calls,
            concurrency=tool_concurrency,
            max_result_chars=max_result_chars,
        )
        self.max_steps = max_steps
        self.id = id
        self.model_name = model_name
        self.provider_name = provider_name
        self.instructions = instructions
        self.ttl = float(ttl) if ttl is not None else None
        self.generation: dict[str, Any] = {k: v for k, v in model.items() if k in GENERATION_KEYS}
        self.generation.update(generation or {})
        self._owns_provider = provider is None
        if provider is None:
            options = {k: v for k, v in model.items() if k in CLIENT_KEYS}
            provider = create_provider(provider_name, **options)
        self.provider: Provider = provider
        self._owns_store = isinstance(session_storage, str)
        self.store: SessionStore = resolve_store(session_storage)
        self._store_opened = False
        self.ctxmgr = context_manager if context_manager is not None else ContextManager()
        self.ctxmgr.bind(self.store, self.id, self.ttl)
        LIVE_AGENTS.add(self)

    def __repr__(self) -> str:
        return (
            f"Agent(id={self.id!r}, provider={self.provider_name!r}, model={self.model_name!r}, "
            f"store={self.store.name!r}, context={self.ctxmgr!r})"
        )

    @property
    def context_mode(self) -> str:
        """``full``, ``window``, ``summarize`` or ``stateless``."""
        return self.ctxmgr.mode

    # -- turns -------------------------------------------------------------------------------
    async def run(self, input: Mapping[str, Any] | str, session_id: str | None = None) -> str:
        """Run one turn and return the reply text."""
        return (await self.run_turn(input, session_id)).output

    async def run_turn(
        self,
        input: Mapping[str, Any] | str,
        session_id: str | None = None,
        *,
        client_tools: Sequence[Mapping[str, Any]] = (),
        options: TurnOptions = PLAIN,
    ) -> TurnResult:
        """Run one turn and return the reply with its usage, session id and run id.

        ``client_tools`` (chat completions ``tools``) are offered to the model but not run:
        when the model calls one, the turn ends with those calls in ``tool_calls``.
        """
        run_id = uuid4().hex
        with hooks.turn(self.id, session_id, run_id):
            inputs, sid = self._check_input(input, session_id, options)
            loop = self._loop(run_id, stream=False, client_tools=client_tools)
            async for _ in self._turn(loop, sid, inputs, options, None):
                pass
        return TurnResult(
            loop.text,
            loop.usage,
            sid,
            run_id,
            tuple(loop.client_calls),
            tuple(loop.new_messages),
            events.finish_reason(loop.finish_reason),
        )

    def run_stream(
        self,
        input: Mapping[str, Any] | str,
        session_id: str | None = None,
        *,
        client_tools: Sequence[Mapping[str, Any]] = (),
        options: TurnOptions = PLAIN,
    ) -> AsyncGenerator[events.Event]:
        """Run one turn as a stream of events (see :mod:`vel_runner.events`).

        Bad input raises here, before the stream starts. A consumer that stops early stores
        the part of the answer it received: closing the stream (``aclose``) keeps every delta
        it was handed; cancelling it (or throwing ``CancelledError`` in) keeps those it took
        before asking for the next event.
        """
        run_id = uuid4().hex
        try:
            inputs, sid = self._check_input(input, session_id, options)
        except InvalidInputError as exc:
            hooks.rejected(self.id, run_id, exc)
            raise
        loop = self._loop(run_id, stream=True, client_tools=client_tools)
        return self._stream(loop, sid, inputs, options)

    def _loop(
        self, run_id: str, *, stream: bool, client_tools: Sequence[Mapping[str, Any]] = ()
    ) -> ToolLoop:
        return ToolLoop(
            self.provider,
            self.model_name,
            self.generation,
            self.toolbox,
            run_id=run_id,
            max_steps=self.max_steps,
            stream=stream,
            client_tools=client_tools,
        )

    async def _stream(
        self, loop: ToolLoop, sid: str | None, inputs: list[Message], options: TurnOptions
    ) -> AsyncGenerator[events.Event]:
        yield events.start(loop.run_id, self.id, sid)
        delivered = Delivered()
        try:
            with hooks.turn(self.id, sid, loop.run_id):
                turn = self._turn(loop, sid, inputs, options, delivered)
                async with aclosing(turn) as turn_events:
                    async for event in turn_events:
                        try:
                            yield event
                        except asyncio.CancelledError:  # thrown in at an event nobody took
                            delivered.pending = ""
                            raise
        except VelError as exc:
            if delivered.open_text is not None:
                yield {"type": "text-end", "id": delivered.open_text}
            for event in events.failed(str(exc), sid):
                yield event
            raise
        yield {"type": "finish-step"}
        yield events.finish(sid, loop.usage, events.finish_reason(loop.finish_reason))

    async def _turn(
        self,
        loop: ToolLoop,
        sid: str | None,
        inputs: list[Message],
        options: TurnOptions,
        delivered: Delivered | None,
    ) -> AsyncGenerator[events.Event]:
        """The loop's events; then, for a session, the commit of everything the run added.

        ``inputs`` is the user message, or the results of client tool calls (which continue
        the session's last assistant message). A streamed turn (``delivered``) whose consumer
        stops stores what it delivered (:meth:`_keep_partial`).
        """
        *before, last = inputs
        if sid is None or self.ctxmgr.stateless:
            if last.get("role") == "tool":
                raise InvalidInputError("tool results continue a session: give a session_id")
            history = [*options.history, *before]
            messages = self._messages_for_llm(loop.run_id, sid, history, None, last, options)
            async with aclosing(self._steps(loop, messages)) as steps:
                async for event in steps:
                    if delivered is not None:
                        delivered.track(event)
                    yield event
            return
        if not self._store_opened:
            await self._open_store()
        window = self.ctxmgr.max_history
        async with hooks.store_turn(loop.run_id, self.store, self.id, sid, window) as turn:
            if last.get("role") == "tool":
                check_results_continue(turn.history, inputs)
            history = [*turn.history, *options.history, *before]
            new = [*options.history, *inputs]
            if options.regenerate:
                history, last, new = self._regenerated(turn.history)
            messages = self._messages_for_llm(
                loop.run_id, sid, history, turn.summary, last, options
            )
            try:
                async with aclosing(self._steps(loop, messages)) as steps:
                    async for event in steps:
                        if delivered is None:
                            yield event
                            continue
                        delivered.track(event)
                        yield event
                        delivered.took()
            except GeneratorExit:  # closed: it took the delta it was handed, if any
                if delivered is not None:
                    delivered.took()
                    await self._keep_partial(turn, new, loop, delivered, options.keep_input)
                raise
            except asyncio.CancelledError:  # cancelled: it took what it asked for
                if delivered is not None:
                    await self._keep_partial(turn, new, loop, delivered, options.keep_input)
                raise
            except VelError:  # failed: a chat keeps the question (keep_input), nothing else
                if options.keep_input and new:
                    await self._keep(turn, new, loop, "the question of a failed turn")
                raise
            answered = [dict(m) for m in loop.new_messages]
            if answered:
                answered[-1]["id"] = loop.run_id
            await self._commit(turn, [*new, *answered], loop.usage)

    @staticmethod
    def _regenerated(history: list[Message]) -> tuple[list[Message], Message, list[Message]]:
        """Regenerate: the model answers the session's last (user) message again."""
        if not history or history[-1].get("role") != "user":
            raise InvalidInputError(
                "nothing to regenerate: the session does not end with a user message"
            )
        return history[:-1], history[-1], []

    async def _keep_partial(
        self,
        turn: SessionTurn,
        new: Sequence[Message],
        loop: ToolLoop,
        delivered: Delivered,
        keep_input: bool = False,
    ) -> None:
        """A stopped stream keeps what its consumer showed: the user message, the finished
        tool steps and the partial answer (marked interrupted), so the next turn sees what the
        client sees; stopped before its first word, it keeps nothing, or (``keep_input``)
        the user message and the finished tool steps."""
        text = "".join(delivered.parts)
        if not text and not (keep_input and new):
            return
        done = list(loop.new_messages)
        if done and done[-1].get("tool_calls"):  # its results never came: not a valid history
            done.pop()
        partial = [answer_message(loop.run_id, text, interrupted=True)] if text else []
        await self._keep(turn, [*new, *done, *partial], loop, "the interrupted answer")

    async def _keep(
        self, turn: SessionTurn, kept: Sequence[Message], loop: ToolLoop, what: str
    ) -> None:
        """Commit ``kept`` although the turn did not finish; a failure to store it is logged
        (the stop or the error wins)."""
        task = asyncio.ensure_future(self._commit(turn, kept, loop.usage))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            pass  # cancelled again: the commit carries on by itself
        except Exception as exc:
            log.warning("could not store %s of %s: %s", what, loop.run_id, exc)

    @staticmethod
    async def _steps(loop: ToolLoop, messages: list[Message]) -> AsyncGenerator[events.Event]:
        try:
            async for event in loop.run(messages):
                yield event
        except asyncio.CancelledError:
            raise _cancelled() from None

    # -- the steps of a turn -----------------------------------------------------------------
    def _check_input(
        self, input: Mapping[str, Any] | str, session_id: str | None, options: TurnOptions
    ) -> tuple[list[Message], str | None]:
        sid = None if session_id is None else check_session_id(session_id)
        if options.instructions is not None:
            check_text(options.instructions, "instructions")
        if options.regenerate and (sid is None or self.ctxmgr.stateless):
            raise InvalidInputError("regenerate needs a session (session_id) the agent keeps")
        if isinstance(input, Mapping) and "tool_results" in input:
            return tool_result_messages(input["tool_results"]), sid
        user: Message = {"role": "user", "content": user_text(input)}
        if options.user_id is not None:
            user["id"] = options.user_id
        return [user], sid

    async def _open_store(self) -> None:
        await self.store.open()
        self._store_opened = True

    def _messages_for_llm(
        self,
        run_id: str,
        sid: str | None,
        history: Sequence[Message],
        summary: str | None,
        user: Message,
        options: TurnOptions,
    ) -> list[Message]:
        ctx = self.ctxmgr
        instructions = "\n\n".join(filter(None, (self.instructions, options.instructions)))
        messages = ctx.build_messages(run_id, sid, instructions or None, history, summary, user)
        return [for_model(m) for m in messages]

    async def _commit(self, turn: SessionTurn, new: Sequence[Message], usage: Usage | None) -> None:
        tokens = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
        window = self.ctxmgr.max_history
        if window is None:
            await turn.commit(new, ttl=self.ttl, usage=tokens)
            return
        kept, dropped = split_window([*turn.history, *new], window)
        summary = UNCHANGED
        if self.ctxmgr.summarize and dropped:
            summary = await self._summarize(turn.summary, dropped)
        keep = len(kept) - pinned_count(kept)
        await turn.commit(new, keep=keep, summary=summary, ttl=self.ttl, usage=tokens)

    async def _summarize(self, previous: str | None, dropped: Sequence[Message]) -> str:
        """Fold the messages that left the window into the running summary (same model)."""
        transcript = "\n".join(transcript_line(m) for m in dropped)
        request: list[Message] = [{"role": "system", "content": SUMMARY_INSTRUCTIONS}]
        if previous:
            request.append({"role": "user", "content": f"Previous summary:\n{previous}"})
        request.append({"role": "user", "content": f"New messages:\n{transcript}"})
        try:
            completion = await self.provider.complete(request, model=self.model_name, settings={})
        except asyncio.CancelledError:
            raise _cancelled() from None
        return completion.text.strip()

    async def aclose(self) -> None:
        """Close the provider and store this agent created itself (shared ones stay open)."""
        LIVE_AGENTS.discard(self)
        if self._owns_provider:
            await self.provider.aclose()
        if self._owns_store:
            await self.store.close()
