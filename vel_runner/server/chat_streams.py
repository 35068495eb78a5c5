"""Chat answers in flight, so a reloaded page can resume one (``useChat``'s ``resume``).

A :class:`ChatRun` owns one streamed turn's frames (from the streaming helper,
:mod:`.streaming`, which holds the agent, ends them and says a failure in words an end user
can act on). Its readers (the ``POST`` that started it, and any ``GET .../stream`` that
resumes it) replay the frames so far and then follow it live. The turn
only advances when a reader asks for the next event, so the agent counts as delivered exactly
what a reader took. When the last reader goes (a stopped answer, a closed or reloading tab),
the run waits ``grace`` seconds for one to come back, then stops the turn: the agent stores the
delivered part of the answer, marked interrupted. A new message on the same chat stops the
previous run at once.

A resume that reaches another process (``--workers``, several hosts) follows the answer
through the database when the agent's store is one (:mod:`.chat_mirror`): the writer counts
that follower as a reader while it follows, and a new message on another process stops the
answer here as a local one does. For agents on a memory store runs live in one process, and
such a resume answers 204 ("nothing in flight here").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from ..messages import Message
from ..protocols.sse import DONE, data_frame
from ..protocols.ui_stream import UIMessageStream
from ..storage.keyed_locks import KeyedLocks
from .chat_mirror import Mirror, RemoteChats

if TYPE_CHECKING:
    from ..agent import Agent

log = logging.getLogger("vel_runner.server")

#: Seconds a run without readers waits for a resume before it stops the answer.
RESUME_GRACE = 5.0
#: Seconds an ended answer stays findable for a follower elsewhere that asked late.
RECENT = 30.0

ChatKey = tuple[str, str]


class ChatRun:
    """One streamed turn and the frames it has produced so far."""

    def __init__(
        self, source: AsyncGenerator[bytes], encoder: UIMessageStream, streams: ChatStreams
    ) -> None:
        self.frames: list[bytes] = []
        self.done = False
        self._source = source
        self._encoder = encoder  # what the stream has open, for a stopped answer's ending
        self._streams = streams
        self._pull: asyncio.Task[None] | None = None
        self._readers = 0
        self._timer: asyncio.TimerHandle | None = None
        self._stopping: asyncio.Task[None] | None = None
        #: Set when the agent's store is a database: followers elsewhere can read the answer.
        self.mirror: Mirror | None = None
        #: The user message it answers, until its turn stores it (``None``: a regenerate).
        self.question: Message | None = None

    async def follow(self) -> AsyncIterator[bytes]:
        """Every frame from the first, then the live ones, until the answer ends."""
        self._readers += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        try:
            index = 0
            while True:
                while index < len(self.frames):
                    yield self.frames[index]
                    index += 1
                if self._stopping is not None and not self._stopping.done():
                    await asyncio.shield(self._stopping)  # its closing frames come next
                    continue
                if self.done:
                    return
                try:
                    await asyncio.shield(self._next())
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise  # this reader is cancelled, not the answer
                    # stop() cancelled the model call: the answer's last frames follow
        finally:
            self._readers -= 1
            self.wait_for_readers()

    def wait_for_readers(self) -> None:
        """Without readers, stop the answer unless one comes within the grace period."""
        if not self._readers and not self.done and self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._streams.grace, self._abandon)

    def _next(self) -> asyncio.Task[None]:
        if self._pull is None or self._pull.done():
            self._pull = asyncio.create_task(self._pull_one())
        return self._pull

    async def _pull_one(self) -> None:
        try:
            if not self.frames and self.mirror is not None:
                await self.mirror.recorded()  # what a page sees, every host can reach
            frame = await anext(self._source)
        except StopAsyncIteration:  # the helper sent a failure's frames and [DONE] already
            await self._end()
        except Exception:
            log.exception("streamed chat turn failed")
            await self._end()
        else:
            self._push(frame)

    def _push(self, frame: bytes) -> None:
        self.frames.append(frame)
        if self.mirror is not None:
            self.mirror.pushed()

    async def _end(self) -> None:
        self.done = True
        if not self.frames or self.frames[-1] != DONE:  # the helper ends with it, a stop too
            self.frames.append(DONE)
        if self.mirror is not None:
            self.mirror.end()
        self._streams.forget(self)

    @property
    def message_id(self) -> str | None:
        """The id the answer is stored under (the ``start`` chunk's ``messageId``)."""
        return self._encoder.run_id or None

    def followed_elsewhere(self) -> None:
        """A process elsewhere follows the answer: it gets a reader here (:mod:`.chat_mirror`)
        for as long as it says so."""
        if self.mirror is not None:
            self.mirror.followed()

    def _abandon(self) -> None:
        self._timer = None
        if not self._readers:
            self.stop()

    def stop(self) -> asyncio.Task[None]:
        """Stop the answer (the agent keeps what was delivered); the task ends once stored."""
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._stop())
        return self._stopping

    async def _stop(self) -> None:
        if self.done:
            return
        self.done = True
        pull = self._pull
        try:
            if pull is not None and not pull.done():
                pull.cancel()  # the agent is waiting for the model: cancel that wait
                await asyncio.wait([pull])
            else:  # the agent waits at a frame no reader took: stop it there
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
                    await self._source.athrow(asyncio.CancelledError())
            with contextlib.suppress(Exception):
                await self._source.aclose()
        finally:  # its readers see the answer end as a stream does: closed, then [DONE]
            self.frames.extend(data_frame(item) for item in self._encoder.stopped())
            self.frames.append(DONE)
            await self._end()


class ChatStreams:
    """The runs in flight in this process, by ``(agent_id, chat_id)``."""

    def __init__(self, grace: float = RESUME_GRACE) -> None:
        self.grace = grace
        self._runs: dict[ChatKey, ChatRun] = {}
        self._keys: dict[int, ChatKey] = {}
        #: Runs by mirror stream id, in flight and for :data:`RECENT` seconds after.
        self._streams: dict[str, ChatRun] = {}
        self._starting = KeyedLocks()
        self.remote = RemoteChats(self._followed, self._stop_requested)

    def starting(self, agent_id: str, chat_id: str) -> AbstractAsyncContextManager[None]:
        """Held while a new message of the chat stops the answer before it and starts its own."""
        return self._starting.hold((agent_id, chat_id))

    def get(self, agent_id: str, chat_id: str) -> ChatRun | None:
        """The chat's answer in flight, if any."""
        run = self._runs.get((agent_id, chat_id))
        return None if run is None or run.done else run

    async def start(
        self,
        agent: Agent,
        chat_id: str,
        frames: AsyncGenerator[bytes],
        encoder: UIMessageStream,
        question: Message | None = None,
    ) -> ChatRun:
        """Run ``frames`` (a turn streamed through ``encoder``, :mod:`.streaming`) as the
        chat's answer (to ``question``, a user message the session does not hold yet), after
        stopping the one before it."""
        previous = self._runs.get((agent.id, chat_id))
        if previous is not None:
            await previous.stop()
        run = self._runs[(agent.id, chat_id)] = ChatRun(frames, encoder, self)
        run.question = question
        self._keys[id(run)] = (agent.id, chat_id)
        run.mirror = self.remote.mirror(agent, chat_id, run)
        if run.mirror is not None:
            self._streams[run.mirror.stream] = run
        run.wait_for_readers()  # a client gone before its stream began must not leak the run
        return run

    def forget(self, run: ChatRun) -> None:
        key = self._keys.pop(id(run), None)
        if key is not None and self._runs.get(key) is run:
            del self._runs[key]
        if run.mirror is not None:
            stream = run.mirror.stream
            asyncio.get_running_loop().call_later(RECENT, self._streams.pop, stream, None)

    async def follow_elsewhere(self, agent: Agent, chat_id: str) -> AsyncIterator[bytes] | None:
        """The chat's answer being written by another process, if any, as frames."""
        runs = self.remote.of(agent)
        found = None if runs is None else await runs.in_flight(agent.id, chat_id)
        if runs is None or found is None:
            return None
        return ended(runs.follow(found[0], last=lambda frame: frame == DONE))

    async def question(self, agent: Agent, chat_id: str) -> Message | None:
        """The user message the chat's answer in flight (here or elsewhere) answers, while
        the session does not hold it yet: a page reloaded mid-answer shows it."""
        run = self.get(agent.id, chat_id)
        if run is not None:
            return run.question
        runs = self.remote.of(agent)
        found = None if runs is None else await runs.in_flight(agent.id, chat_id)
        return None if found is None else found[1]

    def _followed(self, stream: str) -> None:
        run = self._streams.get(stream)
        if run is not None:
            run.followed_elsewhere()

    def _stop_requested(self, agent_id: str, chat_id: str) -> None:
        run = self.get(agent_id, chat_id)
        if run is not None:
            run.stop()

    async def close(self) -> None:
        """Stop every answer in flight (server shutdown)."""
        runs = list(self._runs.values())
        await asyncio.gather(*(run.stop() for run in runs), return_exceptions=True)
        await self.remote.close()


async def ended(frames: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``frames``, closed with ``[DONE]`` if they end without it (a writer that went away)."""
    last = None
    async for frame in frames:
        last = frame
        yield frame
    if last != DONE:
        yield DONE
