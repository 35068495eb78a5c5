"""The server's route class (``vel_runner.server.route``): every route checks its JSON body,
and the simple routes are called without FastAPI's dependency resolution. The direct call must
answer exactly as FastAPI's handler would: the same requests, good and bad, against a real
uvicorn, once with the direct calls and once without, give the same answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from helpers.server import echo_agent, served_agents

from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app
from vel_runner.server.route import ServerRoute

RUNS = "/v1/agents/echo/runs"
JSON = {"content-type": "application/json"}
#: (method, path, headers, body): good and bad requests to every route with a direct call
REQUESTS: list[tuple[str, str, dict[str, str], bytes]] = [
    ("POST", RUNS, JSON, b'{"message": "hi", "session_id": "s1"}'),
    ("POST", RUNS, JSON, b'{"message": "again", "session_id": "s1"}'),
    ("POST", RUNS, JSON, b'{"message": "no session"}'),
    ("POST", RUNS, JSON, b'{"message": "hi", "colour": "red"}'),
    ("POST", RUNS, JSON, b'{"message": 5}'),
    ("POST", RUNS, JSON, b'{"message": ""}'),
    ("POST", RUNS, JSON, b'{"session_id": "s1"}'),
    ("POST", RUNS, JSON, b'{"message": "hi", "session_id": "bad id!"}'),
    ("POST", RUNS, JSON, b'["message"]'),
    ("POST", RUNS, JSON, b'{"message": '),
    ("POST", RUNS, JSON, b""),
    ("POST", RUNS, JSON, b'{"message": NaN}'),
    ("POST", RUNS, JSON, b'{"message": "\\ud800"}'),
    ("POST", RUNS, {"content-type": "text/plain"}, b'{"message": "hi"}'),
    ("POST", RUNS, {"content-type": "application/json; charset=utf-8"}, b'{"message": "hi"}'),
    ("POST", RUNS, {}, b'{"message": "hi"}'),
    ("POST", "/v1/agents/nobody/runs", JSON, b'{"message": "hi"}'),
    ("POST", RUNS, JSON, b'{"message": "hi", "stream": true}'),
    ("POST", "/v1/chat/completions", JSON,
     b'{"model": "echo", "messages": [{"role": "user", "content": "hi"}]}'),
    ("POST", "/v1/chat/completions", JSON, b'{"model": "echo", "messages": "hi"}'),
    ("POST", "/v1/chat/completions", JSON, b'{"model": "nobody", "messages": []}'),
    ("POST", "/v1/responses", JSON, b'{"model": "echo", "input": "hi", "store": false}'),
    ("POST", "/v1/responses", JSON, b'{"model": "echo"}'),
    ("POST", "/v1/agents/echo/chat", JSON,
     b'{"id": "c1", "messages": [{"id": "m1", "role": "user", '
     b'"parts": [{"type": "text", "text": "hi"}]}]}'),
    ("POST", "/v1/agents/echo/chat", JSON, b'{"id": "c2", "messages": 1}'),
    ("GET", "/readyz", {}, b""),
]  # fmt: skip
#: Values that differ between two runs of one request (ids, times).
VOLATILE = re.compile(
    r'"(run_id|request_id|id|created|created_at|messageId|response_id|system_fingerprint)"'
    r'\s*:\s*("[^"]*"|\d+)|(run|msg|chatcmpl|resp|conv)[-_][0-9a-zA-Z]+'
)


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every API route of an app, also those inside included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


async def test_every_route_checks_its_body_through_the_server_route_class() -> None:
    """The body check (NUL, lone surrogates, NaN) is the route class's job: a route built
    with FastAPI's plain class would skip it."""
    app = create_app(Runtime.from_agents([echo_agent()]))
    routes = list(api_routes(app.router.routes))
    assert len(routes) > 15
    assert [r.path for r in routes if not isinstance(r, ServerRoute)] == []


async def test_no_route_has_dependencies_a_direct_call_would_skip() -> None:
    app = create_app(Runtime.from_agents([echo_agent()]))
    assert app.router.dependencies == []
    for route in app.router.routes:
        include = getattr(route, "include_context", None)  # an included router (FastAPI 0.16x)
        assert include is None or not include.dependencies
    assert [r.path for r in api_routes(app.router.routes) if r.dependant.dependencies] == []


async def test_the_turn_routes_are_called_directly() -> None:
    """The routes a benchmark or a chat client hits on every turn keep their direct call
    (a parameter FastAPI must resolve, such as a query parameter, would lose it)."""
    app = create_app(Runtime.from_agents([echo_agent()]))
    direct = {
        (sorted(r.methods)[0], r.path)
        for r in api_routes(app.router.routes)
        if isinstance(r, ServerRoute) and r.direct is not None
    }
    assert direct >= {
        ("POST", "/v1/agents/{agent_id}/runs"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/responses"),
        ("POST", "/v1/agents/{agent_id}/chat"),
    }
    # a path parameter with a pattern is FastAPI's to check: never called directly
    assert ("GET", "/v1/agents/{agent_id}/sessions/{session_id}") not in direct


async def answers(base: str) -> list[tuple[int, str, str]]:
    """Status, content type and body (volatile values masked) of every request in order."""
    found = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for method, path, headers, body in REQUESTS:
            response = await http.request(method, path, headers=headers, content=body)
            text = VOLATILE.sub("<v>", response.text)
            found.append((response.status_code, response.headers.get("content-type", ""), text))
    return found


async def test_direct_calls_answer_exactly_as_fastapi_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with served_agents(echo_agent("echo")) as base:
        direct = await answers(base)
    app_routes = api_routes(create_app(Runtime.from_agents([echo_agent()])).router.routes)
    for route in app_routes:  # the route objects are the routers' own: shared by every app
        if isinstance(route, ServerRoute):
            monkeypatch.setattr(route, "direct", None)
    async with served_agents(echo_agent("echo")) as base:
        standard = await answers(base)
    for request, got, expected in zip(REQUESTS, direct, standard, strict=True):
        assert got == expected, request
    statuses = [status for status, _, _ in direct]
    assert statuses.count(200) >= 8 and statuses.count(422) >= 8, statuses
    assert '"output":"echo (1 messages): hi"' in direct[0][2]  # a real answer


async def test_a_direct_call_that_cannot_answer_falls_back_to_fastapi() -> None:
    """Bad bodies reach FastAPI's handler (its error shape); good ones never do."""
    app = create_app(Runtime.from_agents([echo_agent()]))
    route = next(r for r in api_routes(app.router.routes) if r.path.endswith("/runs"))
    assert isinstance(route, ServerRoute) and route.direct is not None
    answered: list[bool] = []
    original = route.direct

    async def counted(request: Any) -> Any:
        response = await original(request)
        answered.append(response is not None)
        return response

    route.direct = counted
    try:
        async with (
            served_agents(echo_agent("echo")) as base,
            httpx.AsyncClient(base_url=base) as http,
        ):
            good = await http.post(RUNS, json={"message": "hi"})
            bad = await http.post(RUNS, json={"message": "hi", "colour": 1})
    finally:
        route.direct = original
    assert good.status_code == 200 and bad.status_code == 422
    assert answered == [True, False]
    assert "colour" in bad.text


async def test_the_documents_and_probes_answer_after_the_api_routes() -> None:
    """The API's routes are the app's own (an included router's routes are matched through a
    wrapper that costs more than the match), matched first; documents and probes last."""
    app = create_app(Runtime.from_agents([echo_agent()]))
    order = [getattr(route, "path", None) for route in app.router.routes]
    runs = "/v1/agents/{agent_id}/runs"
    assert None not in order  # no included-router wrapper
    assert order.index("/openapi.json") > order.index("/readyz") > order.index(runs)
    async with served_agents(echo_agent("echo")) as base, httpx.AsyncClient(base_url=base) as http:
        document = (await http.get("/openapi.json")).json()
        assert "/v1/agents/{agent_id}/runs" in document["paths"]
        for path in ("/docs", "/redoc", "/healthz", "/readyz"):
            assert (await http.get(path)).status_code == 200, path


async def test_a_value_a_route_returns_is_written_as_finite_json() -> None:
    """A route returning a value (not a Response) answers FiniteJSONResponse (NaN as null)
    whether the app includes its router or holds its routes, as create_app does."""
    from fastapi import APIRouter, FastAPI

    router = APIRouter(route_class=ServerRoute)

    @router.get("/value")
    async def value() -> dict[str, Any]:
        return {"ratio": float("nan"), "ok": 1.5}

    app = FastAPI()
    app.router.routes.extend(router.routes)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as http:
        response = await http.get("/value")
    assert response.status_code == 200
    assert response.text == '{"ratio":null,"ok":1.5}'
