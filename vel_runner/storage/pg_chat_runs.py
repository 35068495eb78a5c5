"""Chat answers in flight across processes and hosts, through PostgreSQL (migration 0006).

A ``useChat`` page that reloads in the middle of an answer asks for it again; with several
``serve`` processes or hosts the request may reach one that is not writing it. Each process
that writes chat answers for agents on a database says so in ``vel_chat_runs`` (one row per
chat: the answer's stream id, its writer's origin token, a heartbeat), and LISTENs on the
``vel_chat`` channel for three notifications (JSON payloads):

- ``{"k": "follow", "r": stream}``: another process follows that answer. The writer then copies
  its frames so far into ``vel_chat_frames`` and every later one as it comes, and counts the
  follower as a reader while the notification keeps coming (every :data:`FOLLOW_EVERY` s).
  Answers nobody follows elsewhere write no frames.
- ``{"k": "frames", "r": stream}``: the writer stored more frames: followers read them.
- ``{"k": "stop", "a": agent, "s": chat, "o": origin}``: another process recorded a new answer
  of that chat (a new message, a regenerate); the writer of the one it replaced stops it (the
  chat's next turn waits for it anyway). The record and the notification are one statement,
  and a writer records its answer only once it LISTENs and before its page sees a frame, so
  a new message sent after a page saw an answer always reaches its writer.

A follower reads frames by sequence number until the answer's last frame, waking on the
notification or every :data:`POLL` s; an answer whose writer stopped beating its heartbeat
for :data:`STALE` s is gone. Everything here is best effort: a database that fails a call is
logged (without its password) and the answer goes on; a resume then finds nothing.
Frames are bytes; what they mean (SSE) is the server's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from ..errors import StoreUnavailableError
from ..messages import Message
from ..redact import describe_dsn, dsn_secrets, error_text
from .pg_events import PgListener
from .pg_pool import Pool

log = logging.getLogger(__name__)
T = TypeVar("T")

CHANNEL = "vel_chat"
#: Seconds between a writer's heartbeats, and without one after which its answers are gone.
HEARTBEAT = 2.0
STALE = 10.0
#: Seconds between a follower's ``follow`` notifications (it is a reader while they come).
FOLLOW_EVERY = 1.0
#: A follower reads again at least this often (seconds), notification or not.
POLL = 0.5
#: Seconds a follower waits for frames of an answer that has ended before it gives up.
GONE_WAIT = 3.0
#: Frames, and rows of answers that ended or whose writer died, older than this (seconds)
#: are deleted by the :data:`SWEEP_EVERY` sweep (and frames when an answer's frames are).
KEEP_FRAMES = 3600
#: Seconds between two sweeps of old rows by one process (done when an answer ends).
SWEEP_EVERY = 600.0

#: Record the chat's answer now, and tell the writer of the one it replaces, if another
#: process still writes it, to stop (one statement: the row read is the row replaced).
START = """
WITH replaced AS (
    SELECT owner FROM vel_chat_runs
    WHERE agent_id = %(a)s AND session_id = %(s)s AND ended_at IS NULL AND owner <> %(o)s
), recorded AS (
    INSERT INTO vel_chat_runs (agent_id, session_id, run_id, owner, question)
    VALUES (%(a)s, %(s)s, %(r)s, %(o)s, %(q)s)
    ON CONFLICT (agent_id, session_id) DO UPDATE
    SET run_id = EXCLUDED.run_id, owner = EXCLUDED.owner, question = EXCLUDED.question,
        started_at = clock_timestamp(), alive_at = clock_timestamp(), ended_at = NULL
)
SELECT pg_notify(
    'vel_chat',
    json_build_object('k', 'stop', 'a', %(a)s::text, 's', %(s)s::text, 'o', %(o)s::text)::text
)
FROM replaced
"""
END = "UPDATE vel_chat_runs SET ended_at = clock_timestamp() WHERE run_id = %(r)s"
BEAT = """
UPDATE vel_chat_runs SET alive_at = clock_timestamp()
WHERE owner = %(o)s AND ended_at IS NULL
"""
#: The chat's answer in flight elsewhere: its stream id and question, if a live writer has one.
IN_FLIGHT = """
SELECT run_id, question FROM vel_chat_runs
WHERE agent_id = %(a)s AND session_id = %(s)s AND ended_at IS NULL AND owner <> %(o)s
  AND alive_at > clock_timestamp() - make_interval(secs => %(stale)s)
"""
LIVE = """
SELECT 1 FROM vel_chat_runs
WHERE run_id = %(r)s AND ended_at IS NULL
  AND alive_at > clock_timestamp() - make_interval(secs => %(stale)s)
"""
WRITE = """
WITH written AS (
    INSERT INTO vel_chat_frames (run_id, seq, frame)
    SELECT %(r)s, %(first)s + ord::int - 1, frame
    FROM unnest(%(frames)s::bytea[]) WITH ORDINALITY AS t(frame, ord)
    ON CONFLICT DO NOTHING
    RETURNING seq
)
SELECT pg_notify('vel_chat', json_build_object('k', 'frames', 'r', %(r)s::text)::text)
"""
READ = """
SELECT seq, frame FROM vel_chat_frames WHERE run_id = %(r)s AND seq >= %(after)s ORDER BY seq
"""
FORGET = """
DELETE FROM vel_chat_frames
WHERE run_id = %(r)s OR created_at < clock_timestamp() - make_interval(secs => %(keep)s)
"""
SWEEP = """
WITH runs AS (
    DELETE FROM vel_chat_runs
    WHERE coalesce(ended_at, alive_at) < clock_timestamp() - make_interval(secs => %(keep)s)
)
DELETE FROM vel_chat_frames
WHERE created_at < clock_timestamp() - make_interval(secs => %(keep)s)
"""
NOTIFY = "SELECT pg_notify('vel_chat', %(payload)s)"


class PgChatRuns:
    """One process's view of the chat answers in flight on one database.

    ``on_follow(stream)``: another process follows an answer (this process may write it).
    ``on_stop(agent_id, chat_id)``: a new message for that chat arrived elsewhere.
    """

    def __init__(
        self,
        dsn: str,
        origin: str,
        *,
        on_follow: Callable[[str], None],
        on_stop: Callable[[str, str], None],
        timeout: float = 5.0,
    ) -> None:
        self.dsn = dsn
        self.origin = origin
        self._on_follow = on_follow
        self._on_stop = on_stop
        self._timeout = timeout
        self._pool = Pool(
            lambda: dsn, name="chat-runs", min_size=1, max_size=4, timeout=timeout, max_idle=60
        )
        self._listener = PgListener(dsn, CHANNEL, self._notified, what="chat answers")
        self._owned: set[str] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._swept_at = float("-inf")

    async def _run(self, call: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        """``call`` on a pool connection (the pool and the listener start on first use)."""
        await self._open()
        async with self._pool.connection() as conn:
            return await call(conn)

    async def _open(self) -> None:
        if not self._pool.opened:
            await self._pool.open()
            self._listener.start()

    async def _execute(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        async def execute(conn: psycopg.AsyncConnection[Any]) -> list[tuple[Any, ...]]:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall() if cursor.description else []

        return await self._run(execute)

    async def _try(self, what: str, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """:meth:`_execute`, a failure logged and answered with no rows."""
        try:
            return await self._execute(query, params)
        except (psycopg.Error, StoreUnavailableError) as exc:
            reason = error_text(exc, dsn_secrets(self.dsn))
            log.warning(
                "chat answers: could not %s on %s: %s", what, describe_dsn(self.dsn), reason
            )
            return []

    # -- the writer's side -------------------------------------------------------------------
    async def started(
        self, agent_id: str, chat_id: str, stream: str, question: Message | None = None
    ) -> None:
        """This process writes ``stream``, the chat's answer now (to ``question``, a user
        message the session does not hold yet); another process's answer it replaces is
        told to stop."""
        self._owned.add(stream)
        asked = None if question is None else Jsonb(dict(question))
        params = {"a": agent_id, "s": chat_id, "r": stream, "o": self.origin, "q": asked}
        # whoever sees the record may ask this process to stop: hear the channel first (a
        # NOTIFY sent before the LISTEN is lost); a database down records anyway, and fails
        await self._open()
        await self._listener.heard(self._timeout)
        await self._try("record an answer", START, params)
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._beat(), name="vel-chat-heartbeat")

    async def ended(self, stream: str) -> None:
        """The answer is done: followers read to its last frame, then stop. Now and then,
        old rows go too (a chat's row stays until its next answer, or an hour)."""
        self._owned.discard(stream)
        await self._try("end an answer", END, {"r": stream})
        now = asyncio.get_running_loop().time()
        if now - self._swept_at >= SWEEP_EVERY:
            self._swept_at = now
            await self._try("delete old answers", SWEEP, {"keep": KEEP_FRAMES})

    async def write(self, stream: str, first: int, frames: Sequence[bytes]) -> bool:
        """Store ``frames`` (numbered from ``first``) for the followers; ``False`` if it failed."""
        params = {"r": stream, "first": first, "frames": list(frames)}
        try:
            await self._execute(WRITE, params)
        except (psycopg.Error, StoreUnavailableError) as exc:
            log.warning(
                "chat answers: could not copy frames: %s", error_text(exc, dsn_secrets(self.dsn))
            )
            return False
        return True

    async def forget(self, stream: str) -> None:
        """Delete the answer's frames (and any left behind by a process that died)."""
        await self._try("delete frames", FORGET, {"r": stream, "keep": KEEP_FRAMES})

    async def _beat(self) -> None:
        while self._owned:
            await asyncio.sleep(HEARTBEAT)
            if self._owned:
                await self._try("beat", BEAT, {"o": self.origin})

    # -- the follower's side -----------------------------------------------------------------
    async def in_flight(self, agent_id: str, chat_id: str) -> tuple[str, Message | None] | None:
        """The stream id and question of the chat's answer being written by another process,
        if any."""
        params = {"a": agent_id, "s": chat_id, "o": self.origin, "stale": STALE}
        rows = await self._try("look for an answer", IN_FLIGHT, params)
        if not rows:
            return None
        stream, question = rows[0]
        return str(stream), question if isinstance(question, dict) else None

    async def follow(self, stream: str, last: Callable[[bytes], bool]) -> AsyncIterator[bytes]:
        """The answer's frames from its first, live, until one for which ``last`` is true (or
        the writer is gone)."""
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        self._waiters.setdefault(stream, set()).add(wake)
        follow = json.dumps({"k": "follow", "r": stream})
        following = progress = -1e9
        after = 0
        try:
            await self._listener.heard(POLL)  # not listening yet: the polls still read
            progress = loop.time()
            while True:
                if loop.time() - following >= FOLLOW_EVERY:
                    following = loop.time()
                    await self._try("follow an answer", NOTIFY, {"payload": follow})
                wake.clear()
                rows = await self._try("read frames", READ, {"r": stream, "after": after})
                for seq, frame in rows:
                    if seq != after:
                        break  # not written in order yet: read again
                    after += 1
                    progress = loop.time()
                    yield bytes(frame)
                    if last(bytes(frame)):
                        return
                if not rows and loop.time() - progress > GONE_WAIT:
                    live = await self._try("check an answer", LIVE, {"r": stream, "stale": STALE})
                    if not live:
                        return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), POLL)
        finally:
            waiters = self._waiters.get(stream)
            if waiters is not None:
                waiters.discard(wake)
                if not waiters:
                    del self._waiters[stream]

    # -- notifications -----------------------------------------------------------------------
    def _notified(self, payload: str) -> None:
        try:
            data = json.loads(payload)
            kind = data.get("k")
            if kind == "frames":
                for wake in self._waiters.get(str(data.get("r")), ()):
                    wake.set()
            elif kind == "follow":
                self._on_follow(str(data["r"]))
            elif kind == "stop" and data.get("o") != self.origin:
                self._on_stop(str(data["a"]), str(data["s"]))
        except Exception:  # a malformed payload or a broken callback must not stop the listener
            log.exception("chat answers: could not handle %r", payload[:200])

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        await self._listener.stop()
        await self._pool.close()


__all__ = ["CHANNEL", "PgChatRuns"]
