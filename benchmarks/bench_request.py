"""What ``serve`` pays per request, inside the app: one ``POST /v1/agents/echo/runs`` through
the ASGI app (FastAPI, the middleware, the route, the agent, the protocol encoder), called
in-process without uvicorn or a network, counted in instructions under valgrind (see
benchmarks/instructions.py). Run: python benchmarks/bench_request.py [--against PATH]

Rows: JSON and SSE (``"stream": true``) on sessions with no history, and JSON on sessions
that hold 400 messages first (a served turn should cost the same: the store keeps the
model's view of the history). ``--against PATH`` prints the same rows for another checkout
(``git worktree add /tmp/old 465fe05``) beside this one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from instructions import per_unit

ROOT = Path(__file__).resolve().parent.parent
SESSIONS, TURNS = 20, 10

REQUESTS = (
    f"SESSIONS = {SESSIONS}\n"
    + """
import asyncio, json, sys
from vel_runner import Agent
from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app

async def main(history, stream, turns):
    agent = Agent("echo", model={"provider": "echo", "model": "echo-1"})
    app = create_app(Runtime.from_agents([agent]))
    inbox, outbox = asyncio.Queue(), asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    life = asyncio.create_task(app({"type": "lifespan"}, inbox.get, outbox.put))
    await outbox.get()

    async def post(session, text):
        body = json.dumps({"message": text, "session_id": session, "stream": stream}).encode()
        path = "/v1/agents/echo/runs"
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
                 "http_version": "1.1", "method": "POST", "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000),
                 "headers": [(b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode())]}
        sent, done = [], asyncio.Event()

        async def receive():
            if not sent:
                sent.append(1)
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            if message["type"] == "http.response.body" and not message.get("more_body"):
                done.set()

        await app(scope, receive, send)

    pairs = [({"role": "user", "content": f"question {i} about something"},
              {"role": "assistant", "content": f"answer {i} to that question", "id": f"r{i}"})
             for i in range(history // 2)]
    sessions = [f"s{i}" for i in range(SESSIONS)]
    for session in sessions:
        await agent.ctxmgr.aset_session_context(session, [m for p in pairs for m in p])
        await post(session, "hello")
    for _ in range(turns):
        for session in sessions:
            await post(session, "hello there")
    await inbox.put({"type": "lifespan.shutdown"})
    await life

asyncio.run(main(int(sys.argv[1]), sys.argv[2] == "sse", int(sys.argv[3])))
"""
)

ROWS = (
    ("JSON, no history", 0, "json"),
    ("SSE, no history", 0, "sse"),
    ("JSON, 400 messages", 400, "json"),
)


def cost(tree: Path, history: int, kind: str) -> float:
    return per_unit(tree, REQUESTS, [str(history), kind, str(TURNS)], SESSIONS * TURNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, help="another checkout, beside this one")
    args = parser.parse_args()
    trees = [("this tree", ROOT)]
    if args.against is not None:
        trees.append((str(args.against), args.against.resolve()))
    print(f"instructions per request, {SESSIONS} sessions x {TURNS} turns, in-process ASGI")
    widths = [max(14, len(name) + 2) for name, _ in trees]
    print(f"{'':22}" + "".join(f"{name:>{w}}" for (name, _), w in zip(trees, widths, strict=True)))
    for label, history, kind in ROWS:
        figures = [cost(tree, history, kind) for _, tree in trees]
        cells = "".join(f"{f:>{w},.0f}" for f, w in zip(figures, widths, strict=True))
        print(f"{label:22}{cells}")


if __name__ == "__main__":
    main()
