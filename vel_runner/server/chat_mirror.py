"""Chat answers followed from other processes and hosts, for agents on a database store.

``useChat``'s resume reaches whichever process the load balancer picks. :class:`RemoteChats`
keeps, per database the agents use, one :class:`~vel_runner.storage.pg_chat_runs.PgChatRuns`
(the rows, the frames and the ``vel_chat`` notifications). For each answer this process
writes, a :class:`Mirror` records it and, once another process follows it, copies its frames
into the database as they come (a few writes a second at most: a write takes every frame
made since the one before). Nothing is copied for an answer nobody follows elsewhere, so the
cost of an ordinary answer is two small writes (its start and its end) and a shared
heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..agent import Agent
    from ..messages import Message
    from ..storage.pg_chat_runs import PgChatRuns

#: Seconds between two copies of an answer's frames (the newest frames wait at most this).
FLUSH_INTERVAL = 0.02
#: Seconds an ended answer's frames stay in the database for followers still reading.
KEEP_AFTER_END = 60.0
#: Seconds without a word from a follower elsewhere after which it counts as gone (it says
#: so every :data:`~vel_runner.storage.pg_chat_runs.FOLLOW_EVERY` seconds).
FOLLOWER_GONE = 3.0


class Answer(Protocol):
    """What a mirror needs of an answer in flight (a :class:`~.chat_streams.ChatRun`)."""

    #: Its frames so far; the list grows as the answer does.
    frames: list[bytes]
    #: The user message it answers, when the session does not hold it yet.
    question: Message | None

    def follow(self) -> AsyncIterator[bytes]:
        """Read it as a page would: every frame from the first, then live."""
        ...


class Mirror:
    """One answer this process writes, as the database sees it."""

    def __init__(
        self, runs: PgChatRuns, agent_id: str, chat_id: str, answer: Answer, tasks: Tasks
    ) -> None:
        self.runs = runs
        self.stream = uuid.uuid4().hex
        self.frames = answer.frames  # the run's own list: it grows as the answer does
        self.followed_at = float("-inf")
        self._follow = answer.follow
        self._reading = False
        self._active = False
        self._ended = False
        self._written = 0
        self._wake = asyncio.Event()
        self._tasks = tasks
        self._started = self._spawn(runs.started(agent_id, chat_id, self.stream, answer.question))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return self._tasks.spawn(work)

    async def recorded(self) -> None:
        """Once the database has the answer and this process hears its channel: a page that
        saw a frame of it can then reach it from any host (a new message there stops it)."""
        await asyncio.shield(self._started)

    def followed(self) -> None:
        """Another process follows the answer: copy it from its first frame, and on, and read
        it here on that follower's behalf (the answer advances as its readers take it)."""
        self.followed_at = asyncio.get_running_loop().time()
        if not self._active:
            self._active = True
            self._spawn(self._copy())
        if not self._reading:
            self._reading = True
            self._spawn(self._read_for_follower())
        self._wake.set()

    async def _read_for_follower(self) -> None:
        """A reader of the answer here while the follower elsewhere keeps saying it follows."""
        loop = asyncio.get_running_loop()
        try:
            async for _ in self._follow():
                self._wake.set()
                if loop.time() - self.followed_at > FOLLOWER_GONE:
                    break  # the follower went away: this reader leaves too
        finally:
            self._reading = False

    def pushed(self) -> None:
        """The answer has a new frame."""
        if self._active:
            self._wake.set()

    def end(self) -> None:
        """The answer's last frame is there."""
        if not self._ended:
            self._ended = True
            self._wake.set()
            self._spawn(self._record_end())

    async def _record_end(self) -> None:
        await self._started
        await self.runs.ended(self.stream)

    async def _copy(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._written < len(self.frames):
                batch = self.frames[self._written :]
                if not await self.runs.write(self.stream, self._written, batch):
                    return  # the database failed (logged): followers find the writer gone
                self._written += len(batch)
                await asyncio.sleep(FLUSH_INTERVAL)
            if self._ended:
                break
        self._tasks.spawn(self._forget(), later=True)

    async def _forget(self) -> None:
        await asyncio.sleep(KEEP_AFTER_END)
        await self.runs.forget(self.stream)


class Tasks:
    """The mirrors' background work: ``now`` (records, copies) gets a moment to finish at
    shutdown; ``later`` (deleting old frames) is simply dropped."""

    def __init__(self) -> None:
        self.now: set[asyncio.Task[None]] = set()
        self.later: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], *, later: bool = False) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        group = self.later if later else self.now
        group.add(task)
        task.add_done_callback(group.discard)
        return task

    async def close(self, grace: float) -> None:
        if self.now:
            await asyncio.wait(set(self.now), timeout=grace)
        for task in [*self.now, *self.later]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class RemoteChats:
    """This process's link to the other processes' chat answers, per database."""

    def __init__(
        self, on_follow: Callable[[str], None], on_stop: Callable[[str, str], None]
    ) -> None:
        self.origin = uuid.uuid4().hex
        self._on_follow = on_follow
        self._on_stop = on_stop
        self._by_dsn: dict[str, PgChatRuns] = {}
        self.tasks = Tasks()

    def of(self, agent: Agent) -> PgChatRuns | None:
        """The database side for ``agent``'s chats; ``None`` for a store in memory."""
        if agent.store.kind != "database":
            return None
        dsn = getattr(agent.store, "dsn", None)
        if not isinstance(dsn, str):
            return None
        runs = self._by_dsn.get(dsn)
        if runs is None:
            from ..storage.pg_chat_runs import PgChatRuns

            runs = PgChatRuns(dsn, self.origin, on_follow=self._on_follow, on_stop=self._on_stop)
            self._by_dsn[dsn] = runs
        return runs

    def mirror(self, agent: Agent, chat_id: str, answer: Answer) -> Mirror | None:
        """A :class:`Mirror` of an answer of ``agent`` that starts now (``None``: memory)."""
        runs = self.of(agent)
        if runs is None:
            return None
        return Mirror(runs, agent.id, chat_id, answer, self.tasks)

    async def close(self) -> None:
        """Let the answers' last records through (a second at most), then disconnect."""
        await self.tasks.close(grace=1.0)
        runs, self._by_dsn = list(self._by_dsn.values()), {}
        for each in runs:
            await each.close()
