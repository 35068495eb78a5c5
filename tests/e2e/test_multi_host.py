"""Two ``vel-runner serve`` hosts on one PostgreSQL behind a real HAProxy, round robin with no
sticky sessions: the deployment of docs/deploy.md, with its files
(examples/multi-host/haproxy.cfg and agents.yaml) as they are shipped.

A ``useChat`` resume that the load balancer sends to the other host follows the answer live to
its end; a follower whose writer dies is told so ([DONE]) instead of hanging.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from helpers.net import free_port
from helpers.server import REPO_ROOT, ServerProcess, SseReader, sse_json
from helpers.waiting import wait_until

pytestmark = pytest.mark.slow

EXAMPLE = REPO_ROOT / "examples" / "multi-host"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
WORDS = " ".join(f"w{n}" for n in range(40))


@dataclass
class Deployment:
    hosts: list[ServerProcess]
    balancer: str
    dsn: str


@pytest.fixture
def haproxy_binary() -> str:
    if not os.path.exists(HAPROXY):
        message = "haproxy is needed for the multi-host test (apt-get install haproxy)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return HAPROXY


@pytest.fixture
async def deployment(fresh_postgres_dsn: str, haproxy_binary: str) -> AsyncIterator[Deployment]:
    config = str(EXAMPLE / "agents.yaml")
    env = {"POSTGRES_DSN": fresh_postgres_dsn}
    hosts = [ServerProcess("-c", config, "--no-reload", env=env) for _ in range(2)]
    port, stats = free_port(), free_port()
    balancer = subprocess.Popen(
        [haproxy_binary, "-f", str(EXAMPLE / "haproxy.cfg"), "-db"],
        env={
            **os.environ,
            "VEL_LB_BIND": f"127.0.0.1:{port}",
            "VEL_LB_STATS": f"127.0.0.1:{stats}",
            "VEL_HOST_A": f"127.0.0.1:{hosts[0].port}",
            "VEL_HOST_B": f"127.0.0.1:{hosts[1].port}",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        await asyncio.gather(*(host.ready() for host in hosts))
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(timeout=5) as http:

            async def both_up() -> bool:
                """HAProxy's own word: both hosts pass its health check."""
                try:
                    page = (await http.get(f"http://127.0.0.1:{stats}/;csv")).text
                except httpx.TransportError:
                    return False
                rows = list(csv.DictReader(io.StringIO(page.removeprefix("# "))))
                hosts = [
                    r for r in rows if r["pxname"] == "vel_hosts" and r["svname"] in ("a", "b")
                ]
                return [r["status"] for r in hosts] == ["UP", "UP"]

            await wait_until(both_up, 30, interval=0.2, what="haproxy to pass both hosts")
        yield Deployment(hosts, url, fresh_postgres_dsn)
    finally:
        balancer.terminate()
        try:
            balancer.wait(10)
        except subprocess.TimeoutExpired:
            balancer.kill()
        for host in hosts:
            host.stop()


def chat_body(chat: str, text: str) -> dict[str, Any]:
    parts = [{"type": "text", "text": text}]
    return {"id": chat, "messages": [{"id": f"u-{chat}", "role": "user", "parts": parts}]}


async def test_a_resume_on_either_host_follows_the_answer_to_its_end(
    deployment: Deployment,
) -> None:
    lb = deployment.balancer
    async with httpx.AsyncClient(timeout=60) as http:
        writer = SseReader(
            http, "POST", f"{lb}/v1/agents/assistant/chat", json=chat_body("lb-1", WORDS)
        )
        await wait_until(lambda: writer.deltas() >= 3, what="three words")
        # the page reloads, twice: round robin sends the two resumes to different hosts
        resumes = [SseReader(http, "GET", f"{lb}/v1/agents/assistant/chat/lb-1/stream")]
        await wait_until(lambda: resumes[0].deltas() >= 1, what="the first resume")
        resumes.append(SseReader(http, "GET", f"{lb}/v1/agents/assistant/chat/lb-1/stream"))
        await asyncio.gather(writer.task, *(r.task for r in resumes))
    assert [r.status for r in resumes] == [200, 200]
    async with await psycopg.AsyncConnection.connect(deployment.dsn) as conn:
        row = await (await conn.execute("SELECT count(*) FROM vel_chat_frames")).fetchone()
    assert row is not None and row[0] > 0  # one resume was served by the other host
    full = f"echo (1 messages): {WORDS}"
    assert writer.text() == full
    for resume in resumes:
        assert resume.frames == writer.frames  # from the first frame, live to [DONE]
    async with httpx.AsyncClient(base_url=lb) as http:
        stored = (await http.get("/v1/agents/assistant/sessions/lb-1")).json()["messages"]
        assert [m["content"] for m in stored] == [WORDS, full]
        # and a chat continues on any host: the history is the database's
        for turn in range(4):
            answer = await http.post(
                "/v1/agents/assistant/chat", json=chat_body("lb-1", f"turn {turn}"), timeout=30
            )
            text = "".join(e.get("delta", "") for e in sse_json(answer.text))
            assert text == f"echo ({3 + 2 * turn} messages): turn {turn}"


async def test_a_follower_whose_writer_died_is_told_the_answer_ended(
    deployment: Deployment,
) -> None:
    writer_host, follower_host = deployment.hosts
    async with httpx.AsyncClient(timeout=60) as http:
        writer = SseReader(
            http,
            "POST",
            f"{writer_host.base_url}/v1/agents/assistant/chat",
            json=chat_body("dies", WORDS),
        )
        await wait_until(lambda: writer.deltas() >= 2, what="two words from the writer")
        path = "/v1/agents/assistant/chat/dies/stream"
        follower = SseReader(http, "GET", f"{follower_host.base_url}{path}")
        await wait_until(lambda: follower.deltas() >= 2, what="the follower on the other host")
        writer_host.signal(signal.SIGKILL)
        with pytest.raises(httpx.HTTPError):
            await writer.task
        await asyncio.wait_for(follower.task, 30)
    assert follower.frames[-1] == "data: [DONE]\n\n"
    assert follower.deltas() < len(WORDS.split())
