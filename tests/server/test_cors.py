"""CORS: a page on another origin calls the API from a browser, only when its origin is
configured (``--cors-origin``, ``VEL_CORS_ORIGINS``). The browser itself is in
tests/e2e/test_web_chat.py; here the preflights and headers a browser relies on, one by one."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from helpers.server import ServerProcess, echo_agent, served_agents

from vel_runner.runtime import Runtime
from vel_runner.server import command
from vel_runner.server.app import create_app
from vel_runner.server.settings import ServeSettings, SettingError

PAGE = "http://localhost:5173"
OTHER = "http://evil.example"
KEY = "test-key-123"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    command.configure(parser)
    return parser.parse_args(argv)


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async with served_agents(echo_agent("assistant"), cors_origins=[PAGE], api_key=KEY) as url:
        yield url


def preflight(method: str, headers: str = "content-type") -> dict[str, str]:
    return {
        "Origin": PAGE,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def v1_routes() -> list[tuple[str, str]]:
    """(method, concrete path) of every ``/v1`` route the app has."""
    app = create_app(Runtime.from_agents([echo_agent("assistant")]))
    routes = []
    for path, operations in app.openapi()["paths"].items():
        if not path.startswith("/v1"):
            continue
        concrete = path.replace("{agent_id}", "assistant").replace("{", "x").replace("}", "")
        routes.extend((method.upper(), concrete) for method in operations)
    return routes


async def test_every_v1_route_answers_the_preflight_with_the_key_set(server: str) -> None:
    routes = v1_routes()
    assert len(routes) > 15 and {m for m, _ in routes} >= {"GET", "POST", "PUT", "DELETE"}
    asked = "authorization, content-type, x-session-id, x-stainless-os"
    async with httpx.AsyncClient(base_url=server) as http:
        for method, path in routes:
            response = await http.options(path, headers=preflight(method, asked))
            assert response.status_code == 200, (method, path, response.text)
            assert response.headers["access-control-allow-origin"] == PAGE
            assert method in response.headers["access-control-allow-methods"]
            allowed = response.headers["access-control-allow-headers"].lower()
            for header in ("authorization", "content-type", "x-session-id", "x-stainless-os"):
                assert header in allowed, (path, allowed)
            assert "access-control-allow-credentials" not in response.headers


async def test_answers_are_readable_by_the_page_and_expose_the_ids(server: str) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "model": "assistant"}
    headers = {"Origin": PAGE, "Authorization": f"Bearer {KEY}", "X-Session-Id": "s1"}
    async with httpx.AsyncClient(base_url=server) as http:
        response = await http.post("/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == PAGE
        exposed = response.headers["access-control-expose-headers"].lower()
        assert "x-request-id" in exposed and "x-session-id" in exposed
        assert response.headers["x-session-id"] == "s1" and response.headers["x-request-id"]
        # an error is readable too: the page can show why
        refused = await http.get("/v1/agents", headers={"Origin": PAGE})
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == PAGE


async def test_an_origin_not_listed_gets_no_allow_header(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as http:
        asked = {**preflight("POST"), "Origin": OTHER}
        response = await http.options("/v1/agents/assistant/chat", headers=asked)
        assert "access-control-allow-origin" not in response.headers
        plain = await http.get(
            "/v1/agents", headers={"Origin": OTHER, "Authorization": f"Bearer {KEY}"}
        )
        assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers


async def test_cors_is_off_by_default() -> None:
    async with served_agents(echo_agent("assistant")) as url, httpx.AsyncClient() as http:
        response = await http.options(f"{url}/v1/agents/assistant/chat", headers=preflight("POST"))
        assert response.status_code == 405
        assert "access-control-allow-origin" not in response.headers
        plain = await http.get(f"{url}/v1/agents", headers={"Origin": PAGE})
        assert "access-control-allow-origin" not in plain.headers


async def test_any_origin() -> None:
    async with (
        served_agents(echo_agent("assistant"), cors_origins=["*"]) as url,
        httpx.AsyncClient() as http,
    ):
        response = await http.get(f"{url}/v1/agents", headers={"Origin": OTHER})
        assert response.headers["access-control-allow-origin"] == "*"


def test_flags_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VEL_CORS_ORIGINS", raising=False)
    assert ServeSettings.from_args(parse()).cors_origins == ()
    monkeypatch.setenv("VEL_CORS_ORIGINS", " http://localhost:5173 ,https://app.example.com,")
    from_env = ServeSettings.from_args(parse())
    assert from_env.cors_origins == ("http://localhost:5173", "https://app.example.com")
    flags = parse("--cors-origin", "http://127.0.0.1:3000", "--cors-origin", "http://[::1]:3000")
    assert ServeSettings.from_args(flags).cors_origins == (
        "http://127.0.0.1:3000",
        "http://[::1]:3000",
    )
    # the workers of --workers N read the same origins back from their environment
    worker = ServeSettings.resolve({}, from_env.environ())
    assert worker.cors_origins == from_env.cors_origins


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("http://localhost:5173/", "no trailing slash"),
        ("localhost:5173", "scheme://host[:port]"),
        ("http://app.example.com/chat", "scheme://host[:port]"),
    ],
)
def test_a_value_that_is_not_an_origin_is_named(
    monkeypatch: pytest.MonkeyPatch, value: str, hint: str
) -> None:
    with pytest.raises(SettingError, match="--cors-origin") as flag_error:
        ServeSettings.from_args(parse("--cors-origin", value))
    assert value in str(flag_error.value) and hint in str(flag_error.value)
    monkeypatch.setenv("VEL_CORS_ORIGINS", f"http://ok.example,{value}")
    with pytest.raises(SettingError, match="VEL_CORS_ORIGINS"):
        ServeSettings.from_args(parse())


async def test_the_command_serves_cors(tmp_path: Path) -> None:
    config = tmp_path / "agents.yaml"
    config.write_text(
        "version: 1\nproviders: {offline: {type: echo}}\n"
        "agents: [{id: assistant, model: {provider: offline, model: echo-1}}]\n"
    )
    server = ServerProcess("-c", str(config), "--no-reload", env={"VEL_CORS_ORIGINS": PAGE})
    try:
        await server.ready()
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            response = await http.options("/v1/agents/assistant/chat", headers=preflight("POST"))
            assert response.status_code == 200
            assert response.headers["access-control-allow-origin"] == PAGE
    finally:
        server.stop()
    bad = ServerProcess("-c", str(config), "--cors-origin", "http://x.example/")
    assert bad.wait() == 2 and "no trailing slash" in bad.output()
