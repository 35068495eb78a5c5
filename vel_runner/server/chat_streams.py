"""Chat answers in flight, so a reloaded page can resume one (``useChat``'s ``resume``).

A :class:`ChatRun` owns one streamed turn's frames (from the streaming helper,
:mod:`.streaming`, which holds the agent's lease and ends them). Its readers (the ``POST``
that started it, and any ``GET .../stream`` that resumes it) replay the frames so far and
then follow it live. The turn
only advances when a reader asks for the next event, so the agent counts as delivered exactly
what a reader took. When the last reader goes (a stopped answer, a closed or reloading tab),
the run waits ``grace`` seconds for one to come back, then stops the turn: the agent stores the
delivered part of the answer, marked interrupted. A new message on the same chat stops the
previous run at once.

Runs live in one process: with several workers a resume that reaches another worker answers
204 ("nothing in flight here") rather than the live answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator

from ..protocols.sse import DONE

log = logging.getLogger("vel_runner.server")

#: Seconds a run without readers waits for a resume before it stops the answer.
RESUME_GRACE = 5.0

ChatKey = tuple[str, str]


class ChatRun:
    """One streamed turn and the frames it has produced so far."""

    def __init__(self, source: AsyncGenerator[bytes], streams: ChatStreams) -> None:
        self.frames: list[bytes] = []
        self.done = False
        self._source = source
        self._streams = streams
        self._pull: asyncio.Task[None] | None = None
        self._readers = 0
        self._timer: asyncio.TimerHandle | None = None
        self._stopping: asyncio.Task[None] | None = None

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
                if self.done:
                    return
                await asyncio.shield(self._next())
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
            frame = await anext(self._source)
        except StopAsyncIteration:  # the helper sent the failure frames and [DONE] already
            self._end()
        except Exception:
            log.exception("streamed chat turn failed")
            self._end()
        else:
            self.frames.append(frame)

    def _end(self) -> None:
        """The answer is over: readers see ``[DONE]`` (once) and the chat forgets the run."""
        self.done = True
        if not self.frames or self.frames[-1] != DONE:
            self.frames.append(DONE)
        self._streams.forget(self)

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
        finally:
            self._end()


class ChatStreams:
    """The runs in flight in this process, by ``(agent_id, chat_id)``."""

    def __init__(self, grace: float = RESUME_GRACE) -> None:
        self.grace = grace
        self._runs: dict[ChatKey, ChatRun] = {}
        self._keys: dict[int, ChatKey] = {}

    def get(self, agent_id: str, chat_id: str) -> ChatRun | None:
        """The chat's answer in flight, if any."""
        run = self._runs.get((agent_id, chat_id))
        return None if run is None or run.done else run

    async def start(self, agent_id: str, chat_id: str, frames: AsyncGenerator[bytes]) -> ChatRun:
        """Run ``frames`` (a streamed turn, :mod:`.streaming`) as the chat's answer, after
        stopping the one before it."""
        previous = self._runs.get((agent_id, chat_id))
        if previous is not None:
            await previous.stop()
        run = self._runs[(agent_id, chat_id)] = ChatRun(frames, self)
        self._keys[id(run)] = (agent_id, chat_id)
        run.wait_for_readers()  # a client gone before its stream began must not leak the run
        return run

    def forget(self, run: ChatRun) -> None:
        key = self._keys.pop(id(run), None)
        if key is not None and self._runs.get(key) is run:
            del self._runs[key]

    async def close(self) -> None:
        """Stop every answer in flight (server shutdown)."""
        runs = list(self._runs.values())
        await asyncio.gather(*(run.stop() for run in runs), return_exceptions=True)
