"""Token usage per session: summed by every stored turn in both stores, returned and sorted by
the session routes, exposed on SessionInfo, and kept by PostgreSQL across a restart."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from helpers.server import echo_agent, served_agents

from vel_runner import Agent
from vel_runner.storage.memory import MemoryStore
from vel_runner.storage.postgres import PostgresStore

# The echo provider counts words: "hi" -> "echo (1 messages): hi" (1 in, 4 out), then
# "hi again" sees 1 + 4 + 2 words and answers "echo (3 messages): hi again" (7 in, 5 out).
TWO_TURNS = {"input_tokens": 8, "output_tokens": 9, "turns": 2}


async def two_turns(agent: Agent, sid: str = "s1") -> None:
    await agent.run("hi", session_id=sid)
    await agent.run_turn("hi again", session_id=sid)


def usage(info: Any) -> dict[str, int]:
    return {k: getattr(info, k) for k in ("input_tokens", "output_tokens", "turns")}


async def test_memory_store_sums_usage_per_session() -> None:
    agent = echo_agent("a")
    await two_turns(agent)
    await agent.run("other", session_id="s2")
    [first, second] = await agent.store.list("a")
    assert usage(first) == TWO_TURNS and first.total_tokens == 17
    assert usage(second) == {"input_tokens": 1, "output_tokens": 4, "turns": 1}
    record = await agent.store.get("a", "s1")
    assert record is not None and usage(record) == TWO_TURNS


async def test_streamed_turns_count_too_and_set_keeps_the_sums() -> None:
    agent = echo_agent("a")
    async for _ in agent.run_stream("hi", session_id="s1"):
        pass
    async for _ in agent.run_stream("hi again", session_id="s1"):
        pass
    await agent.ctxmgr.aset_session_context("s1", [{"role": "system", "content": "be brief"}])
    [info] = await agent.store.list("a")
    assert usage(info) == TWO_TURNS and info.message_count == 1


async def test_a_failed_turn_adds_nothing() -> None:
    store = MemoryStore()
    with pytest.raises(RuntimeError):
        async with store.turn("a", "s") as turn:
            raise RuntimeError("the model failed")
    assert await store.list() == []
    async with store.turn("a", "s") as turn:
        await turn.commit([{"role": "user", "content": "x"}], usage=(3, 2))
    [info] = await store.list()
    assert usage(info) == {"input_tokens": 3, "output_tokens": 2, "turns": 1}


async def test_postgres_usage_survives_a_restart(fresh_postgres_dsn: str) -> None:
    store = PostgresStore(fresh_postgres_dsn, timeout=2.0)
    agent = echo_agent("a", session_storage=store)
    await two_turns(agent)
    await agent.ctxmgr.aset_session_context("fresh", [{"role": "user", "content": "hello"}])
    await store.close()

    again = PostgresStore(fresh_postgres_dsn, timeout=2.0, cache_sessions=0)
    await again.open()
    try:
        infos = {i.session_id: i for i in await again.list("a")}
        assert usage(infos["s1"]) == TWO_TURNS
        assert usage(infos["fresh"]) == {"input_tokens": 0, "output_tokens": 0, "turns": 0}
        record = await again.get("a", "s1")
        assert record is not None and usage(record) == TWO_TURNS
        assert usage(again.list_sync("a")[1]) == TWO_TURNS
        # a windowed turn after the restart keeps adding to the stored sums
        windowed = echo_agent("a", session_storage=again)
        await windowed.run("third", session_id="s1")
        [info] = [i for i in await again.list("a") if i.session_id == "s1"]
        assert info.turns == 3 and info.input_tokens > 8 and info.output_tokens > 9
    finally:
        await again.close()


async def test_old_rows_read_as_zero(fresh_postgres_dsn: str) -> None:
    import psycopg

    store = PostgresStore(fresh_postgres_dsn, timeout=2.0)
    await store.open()
    try:
        with psycopg.connect(fresh_postgres_dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO vel_sessions (agent_id, id) VALUES ('a', 'legacy')")
        [info] = await store.list("a")
        assert usage(info) == {"input_tokens": 0, "output_tokens": 0, "turns": 0}
    finally:
        await store.close()


async def test_routes_return_and_sort_by_usage() -> None:
    agent, other = echo_agent("a"), echo_agent("b")
    async with served_agents(agent, other) as url, httpx.AsyncClient(base_url=url) as http:
        await two_turns(agent, "long")
        await agent.run("x", session_id="short")
        await other.run("a much longer first message here", session_id="mid")
        detail = (await http.get("/v1/agents/a/sessions/long")).json()
        assert {k: detail[k] for k in TWO_TURNS} == TWO_TURNS and detail["total_tokens"] == 17

        plain = (await http.get("/v1/sessions")).json()
        assert [s["session_id"] for s in plain["sessions"]] == ["long", "short", "mid"]
        assert plain["sessions"][0]["turns"] == 2

        by_tokens = (await http.get("/v1/sessions", params={"sort": "tokens"})).json()
        assert [s["session_id"] for s in by_tokens["sessions"]] == ["long", "mid", "short"]
        assert by_tokens["total"] == 3

        seen, cursor = [], None
        while True:
            params = {"sort": "output_tokens", "limit": 1, **({"cursor": cursor} if cursor else {})}
            page = (await http.get("/v1/sessions", params=params)).json()
            seen += [(s["output_tokens"], s["session_id"]) for s in page["sessions"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [(9, "long"), (9, "mid"), (4, "short")]  # a tie: by agent id

        turns = (await http.get("/v1/sessions", params={"sort": "turns", "agent": "a"})).json()
        assert [s["session_id"] for s in turns["sessions"]] == ["long", "short"]

        bad = await http.get("/v1/sessions", params={"sort": "cost"})
        assert bad.status_code == 422 and "sort" in bad.json()["error"]["message"]
        wrong = await http.get("/v1/sessions", params={"sort": "tokens", "cursor": "abc"})
        assert wrong.status_code == 422
