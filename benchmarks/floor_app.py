"""The floor for bench_server.py: a bare FastAPI endpoint on uvicorn that only appends the
message to a dict. Nothing an HTTP agent server does can be cheaper than this.

    python -m uvicorn benchmarks.floor_app:app --port 8001 --no-access-log
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()
SESSIONS: dict[str, list[str]] = {}


class Turn(BaseModel):
    message: str
    session_id: str | None = None


@app.post("/append")
async def append(turn: Turn) -> dict[str, str | None]:
    SESSIONS.setdefault(turn.session_id or "", []).append(turn.message)
    return {"output": turn.message, "session_id": turn.session_id}
