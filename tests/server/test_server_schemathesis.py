"""Fuzz every route of the published OpenAPI document: bad input never gets a 500. The
Responses and Conversations bodies are models too, so their requests are generated from
their schemas (and, with a real agent named, run real turns).

Bounded (a few dozen examples per operation) so the file runs in well under a minute. The
endless ``/v1/events`` stream is covered by the route tests instead.
"""

from __future__ import annotations

import schemathesis
from helpers.server import echo_agent
from hypothesis import HealthCheck, settings

from vel_runner import ContextManager, StatelessContextManager
from vel_runner.runtime import Runtime
from vel_runner.server.app import create_app

APP = create_app(
    Runtime.from_agents(
        [
            echo_agent("echo"),
            echo_agent("window", context_manager=ContextManager(max_history=4), ttl=60),
            echo_agent("stateless", context_manager=StatelessContextManager()),
        ]
    ),
    close_runtime=False,
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/v1/events")


@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_route_answers_500(case: schemathesis.Case) -> None:
    check(case)
    if case.path_parameters and "agent_id" in case.path_parameters:
        for agent_id in ("echo", "window"):  # random ids mostly hit the 404 path
            case.path_parameters["agent_id"] = agent_id
            check(case)
    if isinstance(case.body, dict) and "model" in case.body:  # chat completions, Responses
        case.body["model"] = "echo"
        check(case)
    metadata = case.body.get("metadata") if isinstance(case.body, dict) else None
    if isinstance(metadata, dict) and "items" in case.body:  # a conversation with its items
        metadata["agent"] = "echo"
        check(case)


def check(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.as_curl_command(), response.text)
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["type"] and error["message"], response.text
