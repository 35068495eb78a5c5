"""A ``useChat`` resume that reaches another process than the one writing the answer follows
it through PostgreSQL (``vel_runner.storage.pg_chat_runs``, ``server/chat_mirror.py``).

Two apps in this test play two hosts: each has its own agent, store, connections and chat
registry, on one database, each on its own uvicorn. (Two real ``vel-runner serve`` processes
behind HAProxy: tests/e2e/test_multi_host.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import psycopg
import pytest
from helpers.server import SseReader, parse_sse, serving, sse_json
from helpers.waiting import wait_until

from vel_runner import Agent
from vel_runner.runtime import Runtime
from vel_runner.server import chat_mirror
from vel_runner.server.app import create_app
from vel_runner.storage.pg_events import PgListener
from vel_runner.storage.postgres import PostgresStore

WORDS = " ".join(f"w{n}" for n in range(24))


def host(dsn: str, *, delay: float = 0.05, grace: float | None = None) -> Any:
    agent = Agent(
        "slow",
        model={"provider": "echo", "model": "echo-1", "delay": delay},
        session_storage=PostgresStore(dsn, max_size=2),
    )
    memory = Agent("mem", model={"provider": "echo", "model": "echo-1", "delay": delay})
    app = create_app(Runtime.from_agents([agent, memory]))
    if grace is not None:
        app.state.chat_streams.grace = grace
    return app


@contextlib.asynccontextmanager
async def two_hosts(dsn: str, **options: Any) -> AsyncIterator[tuple[str, str]]:
    async with serving(host(dsn, **options)) as a, serving(host(dsn, **options)) as b:
        yield a, b


def listen_late(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Every LISTEN connection (chat answers, session events) starts ``seconds`` late."""
    start = PgListener.start
    monkeypatch.setattr(
        PgListener,
        "start",
        lambda self: asyncio.get_running_loop().call_later(seconds, start, self),
    )


def chat_body(chat: str, text: str, message_id: str) -> dict[str, Any]:
    parts = [{"type": "text", "text": text}]
    return {"id": chat, "messages": [{"id": message_id, "role": "user", "parts": parts}]}


async def stored(dsn: str, chat: str) -> list[dict[str, Any]]:
    store = PostgresStore(dsn)
    try:
        record = await store.get("slow", chat)
        return record.messages if record else []
    finally:
        await store.close()


async def test_a_resume_on_another_host_follows_the_answer_live_to_its_end(
    fresh_postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat_mirror, "KEEP_AFTER_END", 0.2)
    async with two_hosts(fresh_postgres_dsn) as (a, b), httpx.AsyncClient(timeout=30) as http:
        writer = SseReader(
            http, "POST", f"{a}/v1/agents/slow/chat", json=chat_body("c1", WORDS, "u1")
        )
        await wait_until(lambda: writer.deltas() >= 3, what="three words on host A")
        follower = SseReader(http, "GET", f"{b}/v1/agents/slow/chat/c1/stream")
        await asyncio.gather(writer.task, follower.task)
        assert follower.status == 200
        # the same frames, from the first: the follower replays what it missed, then live
        assert follower.frames == writer.frames
        assert parse_sse(follower.frames[-1])[0]["data"] == "[DONE]"
        assert follower.events()[-1]["finishReason"] == "stop"
        assert follower.text() == f"echo (1 messages): {WORDS}"
        messages = await stored(fresh_postgres_dsn, "c1")
        assert messages[-1]["content"] == follower.text() and "metadata" not in messages[-1]

        async def frames_left() -> int:
            async with await psycopg.AsyncConnection.connect(fresh_postgres_dsn) as conn:
                cursor = await conn.execute("SELECT count(*) FROM vel_chat_frames")
                row = await cursor.fetchone()
                return int(row[0]) if row else -1

        await wait_until(lambda: frames_left_is_zero(frames_left), what="frames deleted")


async def frames_left_is_zero(count: Any) -> bool:
    return await count() == 0


async def test_a_follower_elsewhere_keeps_the_answer_going_after_its_page_left(
    fresh_postgres_dsn: str,
) -> None:
    """The page that asked for the answer reloaded onto the other host: the writer counts the
    follower there as a reader, so its grace period does not stop the answer."""
    async with two_hosts(fresh_postgres_dsn, grace=0.3) as (a, b):
        async with httpx.AsyncClient(timeout=30) as http:
            writer = SseReader(
                http, "POST", f"{a}/v1/agents/slow/chat", json=chat_body("c2", WORDS, "u1")
            )
            await wait_until(lambda: writer.deltas() >= 2, what="two words on host A")
            follower = SseReader(http, "GET", f"{b}/v1/agents/slow/chat/c2/stream")
            await wait_until(lambda: follower.deltas() >= 2, what="the follower on host B")
            writer.task.cancel()  # the page is gone from host A
            with contextlib.suppress(asyncio.CancelledError):
                await writer.task
            await follower.task
        assert follower.text() == f"echo (1 messages): {WORDS}"  # well past 0.3 s
        assert follower.events()[-1]["finishReason"] == "stop"
        messages = await stored(fresh_postgres_dsn, "c2")
        assert messages[-1]["content"] == follower.text() and "metadata" not in messages[-1]


async def test_a_new_message_on_another_host_stops_the_answer_in_flight(
    fresh_postgres_dsn: str,
) -> None:
    async with two_hosts(fresh_postgres_dsn, delay=0.2) as (a, b):
        async with httpx.AsyncClient(timeout=30) as http:
            writer = SseReader(
                http, "POST", f"{a}/v1/agents/slow/chat", json=chat_body("c3", WORDS, "u1")
            )
            await wait_until(lambda: writer.deltas() >= 2, what="two words on host A")
            loop = asyncio.get_running_loop()
            started = loop.time()
            second = await http.post(f"{b}/v1/agents/slow/chat", json=chat_body("c3", "next", "u2"))
            await writer.task
            assert loop.time() - started < 3  # the whole answer would take 5 s more
        assert second.status_code == 200
        assert parse_sse(writer.frames[-1])[0]["data"] == "[DONE]"
        assert sse_json(second.text)[-1]["finishReason"] == "stop"
        messages = await stored(fresh_postgres_dsn, "c3")
        assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
        assert messages[1]["metadata"] == {"interrupted": True}
        assert messages[1]["content"] == writer.text()
        assert messages[3]["content"] == "echo (3 messages): next"


async def test_nothing_in_flight_anywhere_is_204(fresh_postgres_dsn: str) -> None:
    async with two_hosts(fresh_postgres_dsn) as (a, b), httpx.AsyncClient(timeout=30) as http:
        assert (await http.get(f"{b}/v1/agents/slow/chat/none/stream")).status_code == 204
        done = await http.post(f"{a}/v1/agents/slow/chat", json=chat_body("c4", "hi", "u1"))
        assert sse_json(done.text)[-1]["finishReason"] == "stop"
        # an answer that has just ended may still be replayed whole (its end is recorded
        # right after its last frame); then nothing is in flight
        replay = await http.get(f"{b}/v1/agents/slow/chat/c4/stream")
        if replay.status_code == 200:
            assert replay.text == done.text

        async def nothing_in_flight() -> bool:
            response = await http.get(f"{b}/v1/agents/slow/chat/c4/stream")
            return response.status_code == 204

        await wait_until(nothing_in_flight, what="the answer's end recorded")
        # an agent in memory has nothing to share: its answers live in their process
        writer = SseReader(http, "POST", f"{a}/v1/agents/mem/chat", json=chat_body("m", WORDS, "u"))
        await wait_until(lambda: writer.deltas() >= 1, what="host A's memory agent")
        assert (await http.get(f"{b}/v1/agents/mem/chat/m/stream")).status_code == 204
        await writer.task


async def test_old_rows_are_swept_when_an_answer_ends(fresh_postgres_dsn: str) -> None:
    async with serving(host(fresh_postgres_dsn, delay=0)) as a, httpx.AsyncClient() as http:
        hello = await http.post(f"{a}/v1/agents/slow/chat", json=chat_body("hello", "x", "u"))
        assert hello.status_code == 200  # the store is migrated; this process swept already
    async with await psycopg.AsyncConnection.connect(fresh_postgres_dsn, autocommit=True) as db:
        # what a dead process left two hours ago, and a chat whose answer ended as long ago
        await db.execute(
            "INSERT INTO vel_chat_runs (agent_id, session_id, run_id, owner, alive_at, ended_at)"
            " VALUES ('slow', 'dead', 'r-dead', 'gone', now() - interval '2 hours', NULL),"
            " ('slow', 'old', 'r-old', 'gone', now() - interval '3 hours',"
            "  now() - interval '2 hours')"
        )
        await db.execute(
            "INSERT INTO vel_chat_frames (run_id, seq, frame, created_at) "
            "VALUES ('r-dead', 0, 'x', now() - interval '2 hours')"
        )
        async with serving(host(fresh_postgres_dsn, delay=0)) as b, httpx.AsyncClient() as http:
            await http.post(f"{b}/v1/agents/slow/chat", json=chat_body("new", "x", "u"))

            async def left() -> tuple[list[str], int]:
                runs = await db.execute("SELECT session_id FROM vel_chat_runs ORDER BY 1")
                frames = await db.execute("SELECT count(*) FROM vel_chat_frames")
                count = await frames.fetchone()
                return [row[0] for row in await runs.fetchall()], count[0] if count else -1

            async def swept() -> bool:
                return await left() == (["hello", "new"], 0)

            await wait_until(swept, what="the old rows swept")


async def test_a_reload_mid_answer_shows_the_question_on_any_host(fresh_postgres_dsn: str) -> None:
    async with two_hosts(fresh_postgres_dsn) as (a, b), httpx.AsyncClient(timeout=30) as http:
        first = await http.post(f"{a}/v1/agents/slow/chat", json=chat_body("q", "hello", "u1"))
        assert first.status_code == 200
        writer = SseReader(
            http, "POST", f"{a}/v1/agents/slow/chat", json=chat_body("q", WORDS, "u2")
        )
        await wait_until(lambda: writer.deltas() >= 2, what="two words")
        for base in (a, b):  # the page reloads onto either host
            ui = (await http.get(f"{base}/v1/agents/slow/chat/q/messages")).json()
            assert [(m["id"], m["role"]) for m in ui][-1] == ("u2", "user")
            assert ui[-1]["parts"] == [{"type": "text", "text": WORDS}]
            assert len(ui) == 3  # hello, its answer, and the question being answered
        await writer.task
        ui = (await http.get(f"{b}/v1/agents/slow/chat/q/messages")).json()
        assert [m["role"] for m in ui] == ["user", "assistant", "user", "assistant"]
        assert [m["id"] for m in ui].count("u2") == 1


async def test_a_page_sees_an_answer_only_once_every_host_can_reach_it(
    fresh_postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first frame waits for the answer's record (made once its writer LISTENs), so a new
    message sent by a page that saw the answer, to any host, finds it there to stop."""
    listen_late(monkeypatch, 1.0)  # a loaded machine: the LISTEN connection opens late
    app = host(fresh_postgres_dsn, delay=0.2)
    async with serving(app) as a, httpx.AsyncClient(timeout=30) as http:
        writer = SseReader(
            http, "POST", f"{a}/v1/agents/slow/chat", json=chat_body("c8", WORDS, "u1")
        )
        await wait_until(lambda: writer.frames, what="the answer's first frame")
        async with await psycopg.AsyncConnection.connect(fresh_postgres_dsn) as db:
            cursor = await db.execute(
                "SELECT count(*) FROM vel_chat_runs WHERE session_id = 'c8' AND ended_at IS NULL"
            )
            assert await cursor.fetchone() == (1,)
        await writer.task


async def test_an_answer_recorded_elsewhere_right_after_this_one_stops_it(
    fresh_postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer records its answer only once it LISTENs, and recording the chat's next
    answer on another host tells it to stop in the same statement: however slow the LISTEN
    connection is to open, the stop reaches it (it was lost when the connection took longer
    than the answer's first words, or when the new answer was recorded before the stop was
    sent)."""
    from vel_runner.storage.pg_chat_runs import PgChatRuns

    setup = PostgresStore(fresh_postgres_dsn)
    await setup.open()  # the tables
    await setup.close()
    listen_late(monkeypatch, 0.5)
    stops: list[tuple[str, str]] = []
    writer = PgChatRuns(fresh_postgres_dsn, "host-a", on_follow=lambda _: None,
                        on_stop=lambda a, s: stops.append((a, s)))  # fmt: skip
    other = PgChatRuns(fresh_postgres_dsn, "host-b", on_follow=lambda _: None,
                       on_stop=lambda a, s: None)  # fmt: skip
    try:
        await writer.started("slow", "c9", "stream-1")
        await other.started("slow", "c9", "stream-2")
        await wait_until(lambda: stops, 5, what="the stop at the writer")
        assert stops == [("slow", "c9")]
    finally:
        await writer.close()
        await other.close()
