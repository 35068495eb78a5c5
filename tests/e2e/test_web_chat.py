"""examples/web-chat in a real browser: headless Chromium (Debian's, driven by playwright-core
in tests/js_browser/browser.mjs) on a page served from another origin than a real
``vel-runner serve`` (the shipped agents.yaml, plus a slow echo agent), allowed by
``--cors-origin``. The page is built twice: for ``ai`` 7 (+ ``@ai-sdk/react`` 4) by its own
package.json, and for ``ai`` 6 (+ ``@ai-sdk/react`` 3) from tests/js_browser's packages.

Each build runs every scenario once in one browser (module-scoped: a browser start costs a
second or two); the tests then check what the page showed against what the server stored.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.net import free_port
from helpers.node import node_harness
from helpers.paths import REPO_ROOT, TESTS
from helpers.server import ServerProcess

EXAMPLE = REPO_ROOT / "examples" / "web-chat"
HARNESS = TESTS / "js_browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SLOW_AGENT = """\
version: 1
providers:
  slow: {type: echo, delay: 0.2}
  nowhere: {type: openai, base_url: "${NOWHERE_URL}", api_key: unused, max_retries: 0}
agents:
  - id: slow
    model: {provider: slow, model: echo-1}
  - id: broken
    model: {provider: nowhere, model: gpt-4o-mini}
"""
#: The ``ai`` releases the page is built for: name -> the node_modules it resolves them from.
BUILDS = {"ai7": None, "ai6": HARNESS / "node_modules"}
NOWHERE = f"http://127.0.0.1:{free_port()}/v1"
SCENARIOS = ("conversation", "stop", "resume", "failure", "refused")


def build_page(out: Path, deps: Path | None) -> None:
    """``node build.mjs`` of the example into ``out`` (its packages, or those of ``deps``)."""
    env = {**os.environ, "WEB_CHAT_DEPS": str(deps)} if deps else dict(os.environ)
    subprocess.run(
        ["node", "build.mjs", "--out", str(out)],
        cwd=EXAMPLE, env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip


class StaticFiles:
    """A plain static file server for the built pages on a free loopback port (a thread)."""

    def __init__(self, root: Path) -> None:
        handler = functools.partial(QuietHandler, directory=str(root))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticFiles]:
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is needed for the browser tests (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    node_harness(EXAMPLE)
    node_harness(HARNESS)
    root = tmp_path_factory.mktemp("pages")
    for name, deps in BUILDS.items():
        build_page(root / name, deps)
    files = StaticFiles(root)
    yield files
    files.close()


@pytest.fixture(scope="module")
def api(pages: StaticFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    slow = tmp_path_factory.mktemp("config") / "slow.yaml"
    slow.write_text(SLOW_AGENT)
    server = ServerProcess(
        *("-c", str(REPO_ROOT / "agents.yaml"), "-c", str(slow), "--no-reload"),
        *("--cors-origin", pages.origin),
        env={"NOWHERE_URL": NOWHERE},  # a provider nobody listens for
    )
    try:
        asyncio.run(server.ready())
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def runs(
    pages: StaticFiles, api: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """Every scenario, once per build: ``{build: {scenario: result}}``. The two builds run in
    two browsers side by side (their chats have their own ids)."""
    shots = tmp_path_factory.mktemp("screenshots")
    browsers = {}
    for name in BUILDS:
        spec = {
            "page": f"{pages.origin}/{name}/index.html",
            "api": api,
            "chats": {scenario: f"{scenario}-{name}" for scenario in SCENARIOS},
            "scenarios": SCENARIOS,
            "screenshots": str(shots / name),
        }
        (shots / name).mkdir()
        browsers[name] = subprocess.Popen(
            ["node", "browser.mjs", json.dumps(spec)],
            cwd=HARNESS, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    results = {}
    try:
        for name, process in browsers.items():
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, err[-3000:]
            results[name] = json.loads(out)
    finally:
        for process in browsers.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    target = os.environ.get("VEL_SCREENSHOTS")
    if target:  # refresh the pictures of docs/clients/use-chat.md (VEL_SCREENSHOTS=docs/images)
        for picture in (shots / "ai7").glob("*.png"):
            shutil.copy(picture, Path(target) / f"web-chat-{picture.name}")
    return results


def result(runs: dict[str, dict[str, Any]], build: str, scenario: str) -> dict[str, Any]:
    outcome = runs[build][scenario]
    assert "failed" not in outcome, json.dumps(outcome, indent=1)
    assert outcome["problems"] == []  # no script error, nothing the console reported
    return outcome


def stored(api: str, agent: str, chat: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{api}/v1/agents/{agent}/sessions/{chat}")
    return response.json()["messages"] if response.status_code == 200 else []


def texts(view: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["text"]) for m in view["messages"]]


builds = pytest.mark.parametrize("build", list(BUILDS))


@builds
def test_conversation_with_a_tool_across_origins(runs: dict, api: str, build: str) -> None:
    live = result(runs, build, "conversation")["live"]
    assert live["status"] == "ready" and live["error"] is None
    assert texts(live) == [
        ("user", "My name is Alice"),
        ("assistant", "echo (2 messages): My name is Alice"),  # the system prompt counts
        ("user", '/tool calculator {"expression": "2 * (3 + 4)"}'),
        ("assistant", "echo (6 messages): calculator -> 14"),
    ]
    assert live["messages"][3]["tools"] == [
        {"name": "calculator", "state": "output-available", "output": "14", "error": None}
    ]
    # the server holds what the page shows, under the same ids
    messages = stored(api, "assistant", f"conversation-{build}")
    answers = [m for m in messages if m["role"] == "assistant" and m.get("id")]
    assert [m["id"] for m in answers][:2] == [live["messages"][1]["id"], live["messages"][3]["id"]]


@builds
def test_a_reload_restores_the_chat_with_its_tool_part_and_it_continues(
    runs: dict, build: str
) -> None:
    outcome = result(runs, build, "conversation")
    assert outcome["reloaded"] == outcome["live"]  # ids, texts and the tool part
    continued = outcome["continued"]
    assert texts(continued)[-2:] == [
        ("user", "and now?"),
        ("assistant", "echo (8 messages): and now?"),  # the model saw the whole history
    ]


@builds
def test_regenerate_replaces_the_last_answer_on_both_sides(
    runs: dict, api: str, build: str
) -> None:
    outcome = result(runs, build, "conversation")
    before, after = outcome["continued"], outcome["regenerated"]
    assert texts(after) == texts(before)  # echo answers the same question the same way
    assert after["messages"][-1]["id"] != before["messages"][-1]["id"]
    messages = stored(api, "assistant", f"conversation-{build}")
    assert messages[-1]["id"] == after["messages"][-1]["id"]
    assert [m["content"] for m in messages if m["role"] == "user"] == [
        "My name is Alice",
        '/tool calculator {"expression": "2 * (3 + 4)"}',
        "and now?",
    ]


@builds
def test_stop_keeps_the_same_partial_answer_on_both_sides(runs: dict, api: str, build: str) -> None:
    outcome = result(runs, build, "stop")
    shown = outcome["stopped"]["messages"][-1]
    assert shown["role"] == "assistant" and shown["text"].startswith("echo (1 messages): one")
    assert not shown["text"].endswith("twelve")
    messages = stored(api, "slow", f"stop-{build}")
    assert messages[1] == {
        "role": "assistant",
        "content": shown["text"],
        "id": shown["id"],
        "metadata": {"interrupted": True},
    }
    # the next turn's model saw the partial answer, as the page did
    assert texts(outcome["next"])[-1] == ("assistant", "echo (3 messages): next")


@builds
def test_a_reload_mid_answer_resumes_it(runs: dict, build: str) -> None:
    outcome = result(runs, build, "resume")
    full = "echo (1 messages): alpha beta gamma delta epsilon zeta eta theta"
    before, after = outcome["before"], outcome["after"]
    assert len(before["messages"][-1]["text"]) < len(full)
    assert after["messages"][-1]["text"] == full
    assert after["messages"][-1]["id"] == before["messages"][-1]["id"]
    # the question shows again after the reload, above the answer it is getting
    assert texts(after) == [
        ("user", "alpha beta gamma delta epsilon zeta eta theta"),
        ("assistant", full),
    ]


@builds
def test_a_failure_is_said_in_words_with_the_request_id(runs: dict, build: str) -> None:
    outcome = runs[build]["failure"]
    assert outcome["status"] == "error"
    assert re.fullmatch(
        r"the model provider could not be reached \(request id [0-9a-f]{32}\)", outcome["error"]
    ), outcome["error"]
    assert texts(outcome) == [("user", "hello")]  # no answer came, and none is shown


@builds
def test_an_origin_not_allowed_is_refused_by_the_browser(runs: dict, build: str) -> None:
    outcome = runs[build]["refused"]
    assert outcome["status"] == "load-error" and "Failed to fetch" in outcome["error"]
    assert any("CORS" in problem for problem in outcome["problems"])
