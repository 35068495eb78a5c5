"""``Agent``: one agent's configuration (model, provider, store, context mode, tools) and its
turns: ``run`` / ``run_turn`` (whole) and ``run_stream`` / ``stream`` (as events), each a
:class:`~vel_runner.turn.Turn` (hold the session -> the model's view -> model and tool steps
-> commit).

Turns on one session are serialized by the store (``store.turn``), so every turn sees the one
before it; different sessions run in parallel. A turn that fails or is cancelled stores
nothing: the commit happens only once the whole reply is there. One exception, for chat
front ends that keep what they showed: a *streamed* turn whose consumer goes away (a stopped
answer, a closed tab) stores the user message with the part of the answer it delivered,
marked ``{"metadata": {"interrupted": true}}`` (:mod:`vel_runner.turn_stop`).

A turn stores its answer under an ``id``, the turn's ``run_id`` (the ``start`` event's
``messageId``), so clients can name it to regenerate or continue from it; the user message
has the id the caller gave (``TurnOptions.user_id``: useChat's message id), if any.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, TypeVar, cast

from .approvals import ApprovalAnswer, settle
from .clock import utc_now
from .context import ContextManager
from .errors import InvalidInputError
from .events import TurnEvent
from .ids import random_hex
from .messages import Message, check_session_id, check_text, user_text
from .observe import hooks
from .protocols.ui_stream import UIMessageStream
from .providers import Provider, create_provider
from .storage import SessionStore, resolve_store
from .structured_output import OutputSpec, as_output_spec
from .tools.outcomes import DEFAULT_MAX_RESULT_CHARS
from .tools.results import tool_result_messages
from .tools.toolbox import Toolbox
from .turn import Encode, Turn
from .turn_options import PLAIN, TurnOptions
from .turn_result import TurnResult
from .turn_steps import StepSettings, step_settings
from .turn_stream import StreamedTurn

T = TypeVar("T")

#: Model calls per run when an agent does not say.
DEFAULT_MAX_STEPS = 10

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
        output: Mapping[str, Any] | type | OutputSpec | None = None,
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
        #: The shape of the answers (structured output), or ``None`` for text.
        self.output = as_output_spec(output)
        self.id = id
        self.model_name = model_name
        self.provider_name = provider_name
        self.instructions = instructions
        self.ttl = float(ttl) if ttl is not None else None
        self.generation: dict[str, Any] = {k: v for k, v in model.items() if k in GENERATION_KEYS}
        self.generation.update(generation or {})
        if self.output is not None:  # every model call asks for the shape (strict)
            self.generation["response_format"] = self.output.response_format()
        self._owns_provider = provider is None
        if provider is None:
            options = {k: v for k, v in model.items() if k in CLIENT_KEYS}
            provider = create_provider(provider_name, **options)
        self.provider: Provider = provider
        self._owns_store = isinstance(session_storage, str)
        self.store: SessionStore = resolve_store(session_storage)
        self.store_open = False
        self.ctxmgr = context_manager if context_manager is not None else ContextManager()
        self.ctxmgr.bind(self.store, self.id, self.ttl)
        self._plain_settings: StepSettings | None = None
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
        """Run one turn and return the reply text (everything the model wrote in the turn)."""
        turn = self._turn(input, session_id, (), PLAIN)
        await turn.run()
        return turn.output

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
        turn = self._turn(input, session_id, client_tools, options)
        await turn.run()
        return turn.result()

    def run_stream(
        self,
        input: Mapping[str, Any] | str,
        session_id: str | None = None,
        *,
        client_tools: Sequence[Mapping[str, Any]] = (),
        options: TurnOptions = PLAIN,
    ) -> AsyncGenerator[dict[str, Any]]:
        """Run one turn as a stream of AI SDK UI message stream events (dicts; see
        :mod:`vel_runner.protocols.ui_stream`).

        Bad input raises here, before the stream starts. A consumer that stops early stores
        the part of the answer it received: closing the stream (``aclose``) keeps every delta
        it was handed; cancelling it (or throwing ``CancelledError`` in) keeps those it took
        before asking for the next event.
        """
        encoder = UIMessageStream()
        return self.stream(
            input, session_id, encode=encoder.encode, client_tools=client_tools, options=options
        )

    def stream(
        self,
        input: Mapping[str, Any] | str,
        session_id: str | None = None,
        *,
        encode: Encode[T] | None = None,
        client_tools: Sequence[Mapping[str, Any]] = (),
        options: TurnOptions = PLAIN,
    ) -> AsyncGenerator[T]:
        """Run one turn as a stream of its typed events (:mod:`vel_runner.events`), or of what
        ``encode`` makes of them (a protocol's encoder: :mod:`vel_runner.protocols`).

        Bad input raises here, before the stream starts; the rules for a stopped stream are
        :meth:`run_stream`'s.
        """
        turn = cast(
            StreamedTurn, self._turn(input, session_id, client_tools, options, StreamedTurn)
        )
        return turn.stream(encode or _as_is)  # type: ignore[arg-type]

    def _turn(
        self,
        input: Mapping[str, Any] | str,
        session_id: str | None,
        client_tools: Sequence[Mapping[str, Any]],
        options: TurnOptions,
        kind: type[Turn] = Turn,
    ) -> Turn:
        """A turn of this agent on checked input: bad input raises here (reported to the
        hooks as a turn refused). The input is the user message, the results of client
        tool calls (``{"tool_results": [...]}``) or answers to the approvals the session
        waits for (``{"approvals": [...]}``)."""
        run_id = random_hex()
        answers = None
        try:
            sid = None if session_id is None else check_session_id(session_id)
            if options is not PLAIN:
                if options.instructions is not None:
                    check_text(options.instructions, "instructions")
                if options.regenerate and (sid is None or self.ctxmgr.stateless):
                    raise InvalidInputError(
                        "regenerate needs a session (session_id) the agent keeps"
                    )
            if (
                isinstance(input, str)
                or not isinstance(input, Mapping)
                or ("tool_results" not in input and "approvals" not in input)
            ):  # a user message (a turn's hot path: no call)
                user: Message = {"role": "user", "content": user_text(input)}
                if options.user_id is not None:
                    user["id"] = options.user_id
                inputs = [user]
            elif "tool_results" in input:
                inputs = tool_result_messages(input["tool_results"])
            else:
                answers = ApprovalAnswer.parse_list(input["approvals"])
                if sid is None or self.ctxmgr.stateless:
                    raise InvalidInputError(
                        "approvals answer the calls a session waits for: give its session_id"
                    )
                inputs = []
        except InvalidInputError as exc:
            hooks.rejected(self.id, run_id, exc)
            raise
        plain = self._plain_settings  # an agent without tools: the same settings every turn
        output = self.output
        if options.response_format is not None:  # the client's own format, in place of ours
            generation = {**self.generation, "response_format": dict(options.response_format)}
            plain, output = self._settings(client_tools, generation), None
        elif (
            client_tools
            or self.toolbox.sources
            or plain is None
            or plain.settings is not self.generation
        ):
            plain = self._settings(client_tools)
        return kind(self, run_id, sid, inputs, options, plain, answers, output)

    def _settings(
        self,
        client_tools: Sequence[Mapping[str, Any]],
        generation: Mapping[str, Any] | None = None,
    ) -> StepSettings:
        """The turn's model-call settings, worked out once per turn; an agent without tools
        sends its generation settings as they are, every turn."""
        if generation is not None:
            return step_settings(generation, self.toolbox, client_tools)
        if client_tools or self.toolbox.sources:
            return step_settings(self.generation, self.toolbox, client_tools)
        plain = self._plain_settings
        if plain is None or plain.settings is not self.generation:
            plain = self._plain_settings = StepSettings(self.generation, self.generation)
        return plain

    async def check_answers(self, input: Mapping[str, Any], session_id: str) -> None:
        """Before a streamed answer starts: raise the 404/409 an ``{"approvals": [...]}``
        input would meet (an unknown, answered or expired approval), so a server can answer
        with a status rather than an error event. The turn checks again, holding the session:
        this read only reports early."""
        answers = ApprovalAnswer.parse_list(input.get("approvals"))
        if not self.store_open:
            await self.open_store()
        record = await self.store.get(self.id, check_session_id(session_id))
        settle(record.messages if record is not None else [], answers, utc_now())

    async def open_store(self) -> None:
        """Open the store before the agent's first turn on it (then: nothing to do)."""
        if not self.store_open:
            await self.store.open()
            self.store_open = True

    async def aclose(self) -> None:
        """Close the provider and store this agent created itself (shared ones stay open)."""
        LIVE_AGENTS.discard(self)
        if self._owns_provider:
            await self.provider.aclose()
        if self._owns_store:
            await self.store.close()


def _as_is(event: TurnEvent) -> tuple[TurnEvent]:
    return (event,)
