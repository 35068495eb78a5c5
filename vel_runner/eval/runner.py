"""Run cases against the agents of a runtime and check every answer.

A case runs ``repeat`` times; each run plays its turns in order on one session (a fresh one,
or the file's named ``session``) and checks each answer as it comes. Up to ``jobs`` runs go at
once (asyncio tasks); the runs of cases that continue one named session are chained in file
order, so a session never sees two turns at a time or a later case before an earlier one.
A turn that raises (a provider error, a cassette miss) ends its run: the turns after it
would talk to a conversation that did not happen.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from typing import Any
from uuid import uuid4

from ..agent import Agent
from ..config.validate import Config
from ..errors import ProviderError, VelError
from ..runtime import Runtime
from .expect import check
from .judge import judged, prompt
from .results import Answer, CallMade, CaseOutcome, Failure, RunOutcome, TurnOutcome
from .spec import Case, Judge, Turn
from .stubs import stubbed_agent
from .tape import SCOPE, CassetteMiss, Scope, Tape

#: ``on_done(outcome)``: a case finished (all its runs); for the progress line.
Progress = Callable[[CaseOutcome], None]


class Runner:
    """Runs ``cases`` on ``runtime`` (started), up to ``jobs`` runs at a time; with
    ``tapes`` (eval file path -> its cassette), model requests go through the cassettes."""

    def __init__(
        self,
        runtime: Runtime,
        config: Config,
        cases: Sequence[Case],
        *,
        jobs: int = 1,
        tapes: dict[str, Tape] | None = None,
        on_done: Progress | None = None,
    ) -> None:
        self.runtime = runtime
        self.config = config
        self.cases = list(cases)
        self.gate = asyncio.Semaphore(max(1, jobs))
        self.tapes = tapes or {}
        self.on_done = on_done
        self.outcomes = {case.id: CaseOutcome(case) for case in self.cases}
        self._left = {case.id: case.repeat for case in self.cases}

    async def run(self) -> list[CaseOutcome]:
        """Every case's outcome, in the order the cases were given."""
        async with AsyncExitStack() as stack:
            agents = {case.id: await self._agent(case, stack) for case in self.cases}
            chains: dict[tuple[str, str], list[tuple[Case, int]]] = {}
            alone: list[tuple[Case, int]] = []
            for case in self.cases:
                for repeat in range(case.repeat):
                    if case.session is None:
                        alone.append((case, repeat))
                    else:
                        chains.setdefault((case.file, case.session), []).append((case, repeat))
            jobs = [self._one(agents[case.id], case, repeat, None) for case, repeat in alone]
            jobs += [self._chain(agents, key, runs) for key, runs in chains.items()]
            await asyncio.gather(*jobs)
        for outcome in self.outcomes.values():
            outcome.runs.sort(key=lambda run: run.repeat)
        return [self.outcomes[case.id] for case in self.cases]

    async def _agent(self, case: Case, stack: AsyncExitStack) -> Agent:
        agent = self.runtime.agent(case.agent)
        if not case.stub_tools:
            return agent
        copy = stubbed_agent(agent, self.config.agents[case.agent]["context"], case.stub_tools)
        stack.push_async_callback(copy.aclose)
        return copy

    async def _chain(
        self, agents: dict[str, Agent], key: tuple[str, str], runs: list[tuple[Case, int]]
    ) -> None:
        session_id = f"eval:{key[1]}:{uuid4().hex}"  # one conversation per file and name
        for case, repeat in runs:
            await self._one(agents[case.id], case, repeat, session_id)

    async def _one(self, agent: Agent, case: Case, repeat: int, session_id: str | None) -> None:
        async with self.gate:
            task = asyncio.create_task(  # its own context: the scope is this run's alone
                self._play(agent, case, repeat, session_id or f"eval:{uuid4().hex}")
            )
            run = await task
        outcome = self.outcomes[case.id]
        outcome.runs.append(run)
        self._left[case.id] -= 1
        if self._left[case.id] == 0 and self.on_done is not None:
            self.on_done(outcome)

    async def _play(self, agent: Agent, case: Case, repeat: int, session_id: str) -> RunOutcome:
        tape = self.tapes.get(case.file)
        scope = Scope(tape, case, repeat) if tape is not None else None
        SCOPE.set(scope)
        run = RunOutcome(repeat)
        started = time.perf_counter()
        history: list[tuple[str, Answer]] = []
        for turn in case.turns:
            if scope is not None:
                scope.turn = turn.number
            outcome = await self._turn(agent, case, turn, session_id, history)
            run.turns.append(outcome)
            if outcome.error is not None:
                break
        run.seconds = time.perf_counter() - started
        return run

    async def _turn(
        self,
        agent: Agent,
        case: Case,
        turn: Turn,
        session_id: str,
        history: list[tuple[str, Answer]],
    ) -> TurnOutcome:
        outcome = TurnOutcome(turn)
        try:
            if case.stream:
                answer = await streamed_answer(agent, turn.user, session_id)
            else:
                answer = answer_of(await agent.run_turn(turn.user, session_id))
            outcome.answer = answer
            history.append((turn.user, answer))
            outcome.failures = check(turn.expect, answer)
        except Exception as exc:  # the turn did not run through: report it, go on with others
            outcome.error, outcome.error_kind = _error(exc)
            return outcome
        judge = turn.expect.judge
        if judge is not None:
            try:
                failure = await self._judge(judge, history)
            except Exception as exc:
                message, outcome.error_kind = _error(exc)
                outcome.error = f"the judge {judge.agent!r} could not grade: {message}"
                return outcome
            if failure is not None:
                outcome.failures.append(failure)
        return outcome

    async def _judge(self, judge: Judge, history: list[tuple[str, Answer]]) -> Failure | None:
        result = await self.runtime.agent(judge.agent).run_turn(prompt(judge.rubric, history))
        return judged(judge.agent, judge.rubric, result.output)


def _error(exc: Exception) -> tuple[str, str]:
    """The message and kind of a turn that raised."""
    if isinstance(exc, CassetteMiss):
        return str(exc), "cassette-miss"
    if isinstance(exc, ProviderError):
        return str(exc), "provider"
    if isinstance(exc, VelError):
        return f"{type(exc).__name__}: {exc}", "error"
    return f"unexpected {type(exc).__name__}: {exc}", "internal"


# -- answers -----------------------------------------------------------------------------------
def _parsed(arguments: str) -> Any:
    try:
        return json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return arguments


def answer_of(result: Any) -> Answer:
    """A :class:`~vel_runner.agent.TurnResult` as an :class:`Answer`: its text, the tool
    calls in its messages (with their results) and its structured object, if it has one."""
    outputs = {
        str(m.get("tool_call_id")): str(m.get("content"))
        for m in result.messages
        if m.get("role") == "tool"
    }
    calls = [
        CallMade(
            call["function"]["name"],
            _parsed(call["function"].get("arguments", "")),
            outputs.get(str(call.get("id"))),
        )
        for message in result.messages
        if message.get("role") == "assistant"
        for call in message.get("tool_calls") or ()
    ]
    # as JSON: a pydantic ``type``'s object is the model's instance, its JSON what is checked
    structured = getattr(result, "object_json", getattr(result, "object", None))
    return Answer(result.output, tuple(calls), structured is not None, structured)


async def streamed_answer(agent: Agent, text: str, session_id: str) -> Answer:
    """Run the turn streamed and read the answer from its events: its text (every text
    delta, joined: what the model wrote in the turn, as ``TurnResult.output`` is), the tool
    calls and their outputs, and the structured object the ``finish`` event carries."""
    structured: Any = None
    parts: dict[str, list[str]] = {}
    calls: dict[str, tuple[str, Any]] = {}
    outputs: dict[str, str] = {}
    async for event in agent.run_stream(text, session_id):
        kind = event["type"]
        if kind == "text-start":
            parts[event["id"]] = []
        elif kind == "text-delta":
            parts.setdefault(event["id"], []).append(event["delta"])
        elif kind == "tool-input-available":
            calls[event["toolCallId"]] = (event["toolName"], event["input"])
        elif kind == "tool-output-available":
            output = event["output"]
            outputs[event["toolCallId"]] = (
                output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
            )
        elif kind == "tool-output-error":
            outputs[event["toolCallId"]] = json.dumps({"error": event["errorText"]})
        elif kind == "finish":
            structured = (event.get("messageMetadata") or {}).get("object")
    text = "".join("".join(part) for part in parts.values())
    made = tuple(CallMade(name, value, outputs.get(i)) for i, (name, value) in calls.items())
    return Answer(text, made, structured is not None, structured)


__all__ = ["Progress", "Runner", "answer_of", "streamed_answer"]
