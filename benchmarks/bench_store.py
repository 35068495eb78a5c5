"""Per-turn store cost: memory vs PostgreSQL, at several history lengths.

One "turn" is what the agent asks of its store: open the turn (serialize, read what the turn
needs) and commit the user message and the reply. No model call. Sessions are pre-filled with
N messages of ~200 bytes; ``window=20`` reads the pinned messages plus the last 20 while the
stored history stays N long (``keep`` unset), the read-bound case.

    python benchmarks/bench_store.py                 # starts a throwaway server (durable settings)
    python benchmarks/bench_store.py --fast-server   # fsync/synchronous_commit off
    POSTGRES_DSN=postgresql://... python benchmarks/bench_store.py

Rows: ``memory``; ``database`` (a warm process: its cache holds the session); ``database cold``
(cache disabled: every turn re-reads what it needs); ``bare psycopg`` (one connection: read 1,000
rows + two inserts in a transaction, the reference point).

Then a whole turn beside a peer, on the same server: ``Agent.run_turn`` on the database store
(full history; a model that answers at once, so what is timed is the runner and its store:
holding the session, the model's view of the history, the commit) against the OpenAI Agents
SDK's ``SQLAlchemySession`` (asyncpg) doing what its runner asks of a session per turn,
``get_items()`` and ``add_items()`` of the user message and the reply (its runner's own work
is left out, in its favour).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from vel_runner.storage.memory import MemoryStore
from vel_runner.storage.postgres import PostgresStore

CONTENT = "x" * 170  # ~200 bytes as JSON with its role


def history(n: int) -> list[dict[str, str]]:
    roles = ("user", "assistant")
    return [{"role": roles[i % 2], "content": f"{i:08d} {CONTENT}"} for i in range(n)]


async def one_turn(store: Any, sid: str, window: int | None) -> None:
    async with store.turn("bench", sid, window=window) as turn:
        await turn.commit(
            [{"role": "user", "content": CONTENT}, {"role": "assistant", "content": CONTENT}]
        )


async def measure(run: Callable[[], Awaitable[None]], turns: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        await run()
    samples = []
    for _ in range(turns):
        started = time.perf_counter()
        await run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def bench_store(
    store: Any, n: int, window: int | None, turns: int, warmup: int
) -> list[float]:
    sid = uuid.uuid4().hex
    await store.set("bench", sid, history(n))
    return await measure(lambda: one_turn(store, sid, window), turns, warmup)


async def bench_bare(dsn: str, turns: int, warmup: int) -> list[float]:
    import psycopg

    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_bare (id bigserial, body jsonb)")
        await conn.execute("TRUNCATE bench_bare")
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO bench_bare (body) VALUES (%s::jsonb)",
                [(psycopg.types.json.Json(m),) for m in history(1000)],
            )
        await conn.commit()

        async def run() -> None:
            cur = await conn.execute("SELECT body FROM bench_bare ORDER BY id LIMIT 1000")
            await cur.fetchall()
            for _ in range(2):
                await conn.execute(
                    "INSERT INTO bench_bare (body) VALUES (%s::jsonb)",
                    (psycopg.types.json.Json({"role": "user", "content": CONTENT}),),
                )
            await conn.commit()

        return await measure(run, turns, warmup)


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


class AnswersAtOnce:
    """A model that answers at once: what a turn then costs is the runner's."""

    type = "constant"

    async def complete(self, messages: Any, *, model: str, settings: Any) -> Any:
        from vel_runner.providers.base import Completion, Usage

        return Completion("ok", Usage(len(messages), 1))

    async def stream(self, messages: Any, *, model: str, settings: Any) -> Any:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


async def bench_agent_turn(dsn: str, n: int, turns: int, warmup: int) -> list[float]:
    from vel_runner import Agent

    store = PostgresStore(dsn, min_size=1, max_size=2)
    agent = Agent("peer", model={"provider": "echo", "model": "m"}, provider=AnswersAtOnce(),
                  session_storage=store)  # fmt: skip
    sid = uuid.uuid4().hex
    await agent.ctxmgr.aset_session_context(sid, history(n))
    try:
        return await measure(lambda: agent.run_turn(CONTENT, session_id=sid), turns, warmup)
    finally:
        await store.close()


def sqlalchemy_url(dsn: str) -> str:
    """A libpq DSN (``key=value`` or a URL) as SQLAlchemy's asyncpg URL."""
    from urllib.parse import quote

    from psycopg.conninfo import conninfo_to_dict

    parts = conninfo_to_dict(dsn)
    auth = quote(str(parts.get("user", "")), safe="")
    if parts.get("password"):
        auth += ":" + quote(str(parts["password"]), safe="")
    where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}"
    return f"postgresql+asyncpg://{auth}@{where}/{parts.get('dbname', '')}"


async def bench_sqlalchemy_session(dsn: str, n: int, turns: int, warmup: int) -> list[float]:
    from agents.extensions.memory import SQLAlchemySession
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(sqlalchemy_url(dsn))
    session = SQLAlchemySession(uuid.uuid4().hex, engine=engine, create_tables=True)
    for start in range(0, n, 1000):
        await session.add_items(history(n)[start : start + 1000])  # type: ignore[arg-type]

    async def turn() -> None:
        await session.get_items()  # what the runner reads to build the model's input
        user = {"role": "user", "content": CONTENT}
        await session.add_items([user, {"role": "assistant", "content": "ok"}])  # type: ignore[list-item]

    try:
        return await measure(turn, turns, warmup)
    finally:
        await engine.dispose()


async def compare_with_peer(dsn: str, turns: int, sizes: list[int]) -> None:
    print()
    print("A whole turn on PostgreSQL, full history, beside the Agents SDK's SQLAlchemySession")
    header = f"{'history':>8} | {'vel-runner':>17} | {'SQLAlchemySession':>17} | {'peer/vel':>8}"
    print(header)
    print(f"{'':>8} | {'median   p95':>17} | {'median   p95':>17} | (medians)")
    print("-" * len(header))
    for n in sizes:
        peer_turns = max(20, turns // 5) if n >= 10_000 else turns
        mine = stats(await bench_agent_turn(dsn, n, turns, 20))
        peer = stats(await bench_sqlalchemy_session(dsn, n, peer_turns, 5))
        print(
            f"{n:>8,} | {mine[0]:8.3f} {mine[1]:8.3f} | {peer[0]:8.3f} {peer[1]:8.3f} | "
            f"{peer[0] / mine[0]:7.1f}x"
        )


async def main(dsn: str, turns: int, sizes: list[int]) -> None:
    memory = MemoryStore()
    warm = PostgresStore(dsn, min_size=1, max_size=2)
    cold = PostgresStore(dsn, min_size=1, max_size=2, cache_sessions=0)
    await warm.open()
    await cold.open()
    bare = stats(await bench_bare(dsn, turns, 20))
    print(f"bare psycopg (read 1,000 rows + 2 inserts): median {bare[0]:.3f} ms, p95 {bare[1]:.3f}")
    print()
    header = (
        f"{'history':>8} {'read':>10} | {'memory':>15} | {'database (warm)':>17} | "
        f"{'database (cold)':>17} | {'db/mem':>7} {'db/bare':>7} {'cold/warm':>9}"
    )
    print(header)
    print(f"{'':>8} {'':>10} | {'median   p95':>15} | {'median   p95':>17} | "
          f"{'median   p95':>17} | (medians)")  # fmt: skip
    print("-" * len(header))
    for n in sizes:
        for window in (None, 20):
            mem = stats(await bench_store(memory, n, window, turns, 20))
            db = stats(await bench_store(warm, n, window, turns, 20))
            cold_turns = max(20, turns // 5) if n >= 10_000 and window is None else turns
            cdb = stats(await bench_store(cold, n, window, cold_turns, 5))
            label = "full" if window is None else f"last {window}"
            print(
                f"{n:>8,} {label:>10} | {mem[0]:7.3f} {mem[1]:7.3f} | {db[0]:8.3f} {db[1]:8.3f} | "
                f"{cdb[0]:8.3f} {cdb[1]:8.3f} | {db[0] / mem[0]:6.0f}x {db[0] / bare[0]:6.2f}x "
                f"{cdb[0] / db[0]:8.1f}x"
            )
    await warm.close()
    await cold.close()
    await compare_with_peer(dsn, turns, sizes)


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=300, help="measured turns per cell")
    parser.add_argument("--sizes", default="10,1000,10000", help="history lengths")
    parser.add_argument("--fast-server", action="store_true", help="throwaway server without fsync")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    dsn = os.environ.get("POSTGRES_DSN")
    server = None
    if not dsn:
        from helpers.pgserver import FAST_SETTINGS, start_server

        server = start_server(FAST_SETTINGS if args.fast_server else None)
        dsn = server.dsn
        mode = "fsync off" if args.fast_server else "default durable settings (fsync on)"
        print(f"throwaway PostgreSQL on 127.0.0.1:{server.port}, {mode}")
    try:
        asyncio.run(main(dsn, args.turns, sizes))
    finally:
        if server is not None:
            server.destroy()


if __name__ == "__main__":
    run()
