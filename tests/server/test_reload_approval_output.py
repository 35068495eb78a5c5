"""Hot reload of ``approval:`` and ``output:`` through the real watcher, served on a real
uvicorn: a save that adds them makes the next turn wait for a person / answer in the schema;
a save that takes them away restores the plain behaviour."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.server import serving
from helpers.waiting import saved_until_seen

from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app

PLAIN = """\
version: 1
providers:
  offline: {type: echo}
tools:
  send_email: {type: python, function: "vel_runner.demo_tools:send_email"}
agents:
  - id: ops
    model: {provider: offline, model: e}
    tools: [send_email]
  - id: triage
    model: {provider: offline, model: e}
"""
GUARDED = PLAIN.replace(
    '"vel_runner.demo_tools:send_email"}', '"vel_runner.demo_tools:send_email", approval: required}'
) + (
    "    output:\n"
    "      schema: {type: object, properties: {title: {type: string},"
    " priority: {enum: [low, high]}}, required: [title, priority], additionalProperties: false}\n"
)
EMAIL = '/tool send_email {"to": "a@example.com", "subject": "Hi", "body": "Hello"}'
SENT = "sent to a@example.com: 'Hi' (5 characters; demo, nothing was sent)"


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[tuple[Runtime, Path, str]]:
    path = tmp_path / "agents.yaml"
    path.write_text(PLAIN)
    runtime = await Runtime.from_paths([path], watch=True, debounce_ms=50, close_grace=0)
    async with runtime, serving(create_app(runtime)) as url:
        yield runtime, path, url


async def run(http: httpx.AsyncClient, agent: str, **body: Any) -> httpx.Response:
    return await http.post(f"/v1/agents/{agent}/runs", json=body)


def guarded(runtime: Runtime) -> bool:
    """Does the live snapshot hold GUARDED's approval and output (else PLAIN's)?"""
    (email,) = runtime.agent("ops").toolbox.specs()
    return bool(email.approval) and runtime.agent("triage").output is not None


async def save(runtime: Runtime, path: Path, text: str) -> None:
    """Save ``text`` over ``path`` until the watcher has applied it."""
    wanted = text == GUARDED
    await saved_until_seen(lambda: path.write_text(text), lambda: guarded(runtime) == wanted)
    assert runtime.last_error is None


async def test_a_save_adds_then_removes_approval_and_output(
    watched: tuple[Runtime, Path, str],
) -> None:
    """Plain: the email goes out at once and triage answers prose. After a save with
    ``approval: required`` and an ``output`` schema: the email waits for a person (and runs
    once approved), triage answers an object of the schema and an answer out of shape gets
    the repair request. After saving the plain config again: as at first."""
    runtime, path, url = watched
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        sent = (await run(http, "ops", message=EMAIL, session_id="p1")).json()
        assert sent["status"] == "completed" and sent["output"].endswith(SENT)
        prose = (await run(http, "triage", message="printer on fire")).json()
        assert prose["output"] == "echo (1 messages): printer on fire" and "object" not in prose

        await save(runtime, path, GUARDED)
        asked = (await run(http, "ops", message=EMAIL, session_id="g1")).json()
        assert asked["status"] == "awaiting_approval" and SENT not in asked["output"]
        (approval,) = asked["approvals"]
        assert approval["tool"] == "send_email"
        answer = {"id": approval["id"], "approved": True}
        done = (await run(http, "ops", approvals=[answer], session_id="g1")).json()
        assert done["status"] == "completed" and done["output"].endswith(SENT)
        typed = (await run(http, "triage", message="printer on fire")).json()
        expected = {"title": "echo (1 messages): printer on fire", "priority": "low"}
        assert typed["object"] == expected and json.loads(typed["output"]) == expected
        # an answer out of shape is checked against the schema and repaired (echo answers
        # the repair request from the schema)
        bad = (await run(http, "triage", message='{"title": "no priority"}')).json()
        assert bad["object"]["priority"] == "low"
        assert 'not valid: "priority" is a required property' in bad["object"]["title"]

        await save(runtime, path, PLAIN)
        again = (await run(http, "ops", message=EMAIL, session_id="p2")).json()
        assert again["status"] == "completed" and again["output"].endswith(SENT)
        prose = (await run(http, "triage", message='{"title": "no priority"}')).json()
        assert prose["output"] == 'echo (1 messages): {"title": "no priority"}'
        assert "object" not in prose


async def test_a_call_asked_before_approval_was_removed_can_still_be_answered(
    watched: tuple[Runtime, Path, str],
) -> None:
    """A call waiting when a save drops ``approval`` stays pending (it was asked under the
    old config) and the person's answer still runs it, once."""
    runtime, path, url = watched
    await save(runtime, path, GUARDED)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        asked = (await run(http, "ops", message=EMAIL, session_id="w")).json()
        (approval,) = asked["approvals"]
        await save(runtime, path, PLAIN)
        listed = (await http.get("/v1/approvals")).json()["approvals"]
        assert [a["id"] for a in listed] == [approval["id"]]
        answer = {"id": approval["id"], "approved": True}
        done = await run(http, "ops", approvals=[answer], session_id="w")
        assert done.status_code == 200, done.text
        assert done.json()["output"] == f"echo (3 messages): send_email -> {SENT}"
        twice = await run(http, "ops", approvals=[answer], session_id="w")
        assert twice.status_code == 409
        assert (await http.get("/v1/approvals")).json()["approvals"] == []
