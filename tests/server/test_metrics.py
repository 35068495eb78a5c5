"""GET /metrics after known traffic: exact counts of turns by outcome, durations, tokens,
sessions, store operations and config reloads; the API key; two workers in one scrape."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.server import ServerProcess, echo_agent, served_agents
from helpers.waiting import wait_until
from prometheus_client.parser import text_string_to_metric_families

from vel_runner import Agent, StatelessContextManager
from vel_runner.errors import InvalidInputError
from vel_runner.observe import hooks
from vel_runner.runtime import Runtime
from vel_runner.storage.memory import MemoryStore


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


async def scrape(http: httpx.AsyncClient, **headers: str) -> str:
    response = await http.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_a_scrape_after_known_traffic_has_the_exact_counts(fake_openai: Any) -> None:
    store = MemoryStore(name="m-store")
    agent = echo_agent("m-echo", session_storage=store)
    nomem = echo_agent("m-nomem", context_manager=StatelessContextManager())
    bad = Agent(
        "m-bad",
        model={"provider": "openai", "model": "status-400", "base_url": fake_openai.base_url,
               "api_key": "sk-metrics-test", "max_retries": 0},
        session_storage=store,
    )  # fmt: skip
    async with (
        served_agents(agent, nomem, bad, metrics=True) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        for message, sid in [("a", "s1"), ("b", "s1"), ("c", "s2")]:
            body = {"message": message, "session_id": sid}
            assert (await http.post("/v1/agents/m-echo/runs", json=body)).status_code == 200
        streamed = {"message": "d", "session_id": "s3", "stream": True}
        assert "[DONE]" in (await http.post("/v1/agents/m-echo/runs", json=streamed)).text
        assert (await http.post("/v1/agents/m-echo/runs", json={"message": "e"})).status_code == 200
        assert (
            await http.post("/v1/agents/m-nomem/runs", json={"message": "f"})
        ).status_code == 200
        failed = await http.post("/v1/agents/m-bad/runs", json={"message": "x", "session_id": "x"})
        assert failed.status_code == 502
        with pytest.raises(InvalidInputError):
            await agent.run_turn("   ", session_id="s9")
        with pytest.raises(InvalidInputError):
            agent.run_stream({"text": "no message key"}, session_id="s9")
        text = await scrape(http)
        assert value(text, "vel_turns_total", agent="m-echo", outcome="ok") == 5
        assert value(text, "vel_turns_total", agent="m-echo", outcome="invalid") == 2
        assert value(text, "vel_turns_total", agent="m-nomem", outcome="ok") == 1
        assert value(text, "vel_turns_total", agent="m-bad", outcome="provider_error") == 1
        assert value(text, "vel_turns_in_flight", agent="m-echo") == 0
        assert value(text, "vel_turn_duration_seconds_count", agent="m-echo") == 5  # not invalid
        assert value(text, "vel_turn_duration_seconds_count", agent="m-bad") == 1
        assert value(text, "vel_model_duration_seconds_count", agent="m-echo", model="echo-1") == 5
        assert (
            value(text, "vel_model_duration_seconds_count", agent="m-bad", model="status-400") == 1
        )
        # echo counts words: a 1/4, b (after a) 6/4, c 1/4, d 1/4, e 1/4
        assert value(text, "vel_tokens_total", agent="m-echo", model="echo-1", kind="input") == 10
        assert value(text, "vel_tokens_total", agent="m-echo", model="echo-1", kind="output") == 20
        assert value(text, "vel_tokens_total", agent="m-bad", model="status-400", kind="input") == 0
        # four stored turns read and wrote; the failed one only read
        assert (
            value(text, "vel_store_operation_duration_seconds_count", store="m-store", op="read")
            == 5
        )
        assert (
            value(text, "vel_store_operation_duration_seconds_count", store="m-store", op="write")
            == 4
        )
        assert value(text, "vel_sessions", agent="m-echo", store="m-store") == 3
        assert value(text, "vel_sessions", agent="m-bad", store="m-store") == 0
        assert (await http.delete("/v1/agents/m-echo/sessions/s2")).json() == {"deleted": True}
        await agent.ctxmgr.aset_session_context("s4", [{"role": "user", "content": "new"}])
        text = await scrape(http)
        assert value(text, "vel_sessions", agent="m-echo", store="m-store") == 3
        version = (await http.get("/v1/config")).json()["version"]
        assert value(text, "vel_config_info", version=version) == 1
    await agent.run("after the server", session_id="s5")  # its observers are gone
    assert hooks.observers() == ()  # fmt: skip


def test_outcomes_name_the_failures() -> None:
    from vel_runner.errors import ProviderError, SessionConflictError, TurnCancelledError

    assert hooks.outcome_of(None) == "ok"
    assert hooks.outcome_of(ProviderError("x")) == "provider_error"
    assert hooks.outcome_of(SessionConflictError("x")) == "conflict"
    assert hooks.outcome_of(TurnCancelledError("x")) == "cancelled"
    assert hooks.outcome_of(asyncio.CancelledError()) == "cancelled"
    assert hooks.outcome_of(InvalidInputError("x")) == "invalid"
    assert hooks.outcome_of(RuntimeError("x")) == "error"


async def test_tool_calls_reported_by_the_hook_are_counted() -> None:
    agent = echo_agent("m-tools")
    async with served_agents(agent, metrics=True) as url, httpx.AsyncClient(base_url=url) as http:
        hooks.record_tool_call("m-tools", "search", "ok", 0.02)
        hooks.record_tool_call("m-tools", "search", "error", 0.5)
        with hooks.NO_STEP.tool("search"):  # outside a turn: nothing
            pass
        text = await scrape(http)
    assert value(text, "vel_tool_calls_total", agent="m-tools", tool="search", outcome="ok") == 1
    assert value(text, "vel_tool_calls_total", agent="m-tools", tool="search", outcome="error") == 1
    assert value(text, "vel_tool_call_duration_seconds_count", agent="m-tools", tool="search") == 2


async def test_tool_names_the_model_made_up_are_one_series() -> None:
    async def search(q: str) -> str:
        """Searches."""
        return q

    agent = echo_agent("m-invented", tools=[search])
    async with served_agents(agent, metrics=True) as url, httpx.AsyncClient(base_url=url) as http:
        before = len(await scrape(http))
        for batch in range(10):  # 100 invented names, ten calls per turn
            lines = "\n".join(f"/tool made_up_{batch}_{n} {{}}" for n in range(10))
            body = {"message": f'{lines}\n/tool search {{"q": "x"}}'}
            assert (await http.post("/v1/agents/m-invented/runs", json=body)).status_code == 200
        text = await scrape(http)
    tools = {
        dict(labels)["tool"]
        for name, labels in samples(text)
        if name == "vel_tool_calls_total" and dict(labels)["agent"] == "m-invented"
    }
    assert tools == {"_unknown", "search"}
    errors = value(
        text, "vel_tool_calls_total", agent="m-invented", tool="_unknown", outcome="error"
    )
    assert errors == 100
    assert (
        value(text, "vel_tool_calls_total", agent="m-invented", tool="search", outcome="ok") == 10
    )
    assert "made_up" not in text and len(text) < before + 10_000


async def test_config_reloads_are_counted(tmp_path: Path) -> None:
    config = tmp_path / "agents.yaml"
    good = (
        "version: 1\nproviders: {e: {type: echo}}\n"
        "agents:\n  - {id: m-reload, model: {provider: e, model: echo-1}}\n"
    )
    config.write_text(good)
    runtime = await Runtime.from_paths([config], watch=False)
    from helpers.server import serving

    from vel_runner.server.app import create_app

    async with (
        serving(create_app(runtime, metrics=True)) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        before = await scrape(http)
        config.write_text("version: 1\nagents: [{id: 5}]\n")
        assert await runtime.reload() is False
        config.write_text(good.replace("echo-1", "echo-2"))
        assert await runtime.reload() is True
        after = await scrape(http)
        new_version = runtime.snapshot.version
    for outcome in ("ok", "failed"):
        was = value(before, "vel_config_reloads_total", outcome=outcome) or 0
        assert value(after, "vel_config_reloads_total", outcome=outcome) == was + 1
    assert value(after, "vel_config_info", version=new_version) == 1


async def test_metrics_need_the_api_key_unless_public() -> None:
    async with (
        served_agents(echo_agent("m-auth"), api_key="k-secret", metrics=True) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        refused = await http.get("/metrics")
        assert refused.status_code == 401 and refused.json()["error"]["type"] == "unauthorized"
        assert "vel_turns_total" in await scrape(http, authorization="Bearer k-secret")
    async with (
        served_agents(
            echo_agent("m-public"), api_key="k", metrics=True, metrics_public=True
        ) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        assert "vel_sessions" in await scrape(http)
        assert (await http.get("/v1/agents")).status_code == 401
    async with served_agents(echo_agent("m-off")) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/metrics")).status_code == 404


WORKERS_CONFIG = """\
version: 1
providers:
  offline: {type: echo}
  down:
    {type: openai, api_key: sk-down-key, base_url: "http://127.0.0.1:9/v1", max_retries: 0}
stores:
  pg: {type: database, dsn: "${POSTGRES_DSN}"}
agents:
  - {id: echo, model: {provider: offline, model: echo-1}, store: pg}
  - {id: broken, model: {provider: down, model: gpt-x}, store: pg}
"""


async def test_two_workers_are_in_one_scrape(tmp_path: Path, fresh_postgres_dsn: str) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(WORKERS_CONFIG)
    shared = tmp_path / "prometheus"
    shared.mkdir()
    server = ServerProcess(
        "-c", str(path), "--workers", "2", "--no-access-log",
        env={"POSTGRES_DSN": fresh_postgres_dsn, "PROMETHEUS_MULTIPROC_DIR": str(shared)},
    )  # fmt: skip
    try:
        await server.ready(timeout=40)
        limits = httpx.Limits(max_keepalive_connections=0)  # a new connection per request
        async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=20) as http:
            loaded = set()

            async def both_answered() -> bool:
                loaded.add((await http.get("/v1/config")).json()["loaded_at"])
                return len(loaded) == 2

            await wait_until(both_answered, 20, interval=0.02, what="both workers to answer")
            for n in range(12):
                body = {"message": f"turn {n}", "session_id": f"s{n % 3}"}
                assert (await http.post("/v1/agents/echo/runs", json=body)).status_code == 200
            for _ in range(2):
                body = {"message": "hello", "session_id": "b"}
                assert (await http.post("/v1/agents/broken/runs", json=body)).status_code == 502
            expected = {
                ("vel_turns_total", "echo", "ok"): 12,
                ("vel_turns_total", "broken", "provider_error"): 2,
                ("vel_turns_in_flight", "echo", None): 0,
            }

            async def numbers() -> list[Any]:
                """One scrape's numbers; the gauge of sessions from the workers' own counts."""
                text = await scrape(http)
                counts = [
                    value(text, name, agent=agent, **({"outcome": outcome} if outcome else {}))
                    for name, agent, outcome in expected
                ]
                return [*counts, value(text, "vel_sessions", agent="echo", store="pg")]

            async def six_agree() -> bool:
                """Six scrapes in a row (whichever worker answers) say the server's numbers:
                the other worker has heard of the sessions (NOTIFY) by then."""
                return all([await numbers() == [*expected.values(), 3] for _ in range(6)])

            await wait_until(six_agree, 20, what="every worker to count the three sessions")
        pids = {p.name.split("_")[-1] for p in shared.glob("counter_*.db")}
        assert len(pids) == 2, sorted(p.name for p in shared.iterdir())
        assert "sk-down-key" not in server.output()
    finally:
        server.stop()
