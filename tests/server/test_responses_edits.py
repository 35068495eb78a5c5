"""Edits and ids of stored responses over HTTP, on the memory store and a real PostgreSQL:
``DELETE /v1/responses/{id}`` edits the session inside its turn lock (a turn in flight is
kept, a retried DELETE removes nothing more), a client's message id never re-points a
response id, and deleting a conversation deletes it under every agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from helpers.server import echo_agent, served_agents, stored_messages
from helpers.stores import STORE_KINDS

from vel_runner.storage import MessageRef, SessionStore, store_class

HOLDS: dict[str, asyncio.Event] = {}


async def hold() -> str:
    """Waits until the test lets it answer."""
    HOLDS["entered"].set()
    await HOLDS["release"].wait()
    return "held"


def observed(kind: str) -> type[Any]:
    """The store class of ``kind``, telling the test when a history write starts
    (``writing``) and able to lose a message right after finding it (``vanish``): what a
    concurrent DELETE does between the route's lookup and its edit."""
    base = store_class(kind)

    class Observed(base):  # type: ignore[misc,valid-type]
        writing: asyncio.Event
        vanish: str | None = None

        async def edit(self, *args: Any, **kwargs: Any) -> Any:
            self.writing.set()
            return await super().edit(*args, **kwargs)

        async def set(self, *args: Any, **kwargs: Any) -> Any:
            self.writing.set()
            return await super().set(*args, **kwargs)

        async def find_message(self, message_id: str) -> MessageRef | None:
            ref = await super().find_message(message_id)
            if ref is not None and message_id == self.vanish:
                record = await super().get(ref.agent_id, ref.session_id)
                kept = [m for m in record.messages if m.get("id") != message_id]
                await super().set(ref.agent_id, ref.session_id, kept)
            return ref

    return Observed


@pytest.fixture(params=STORE_KINDS)
async def store(request: pytest.FixtureRequest) -> AsyncIterator[SessionStore]:
    options: dict[str, Any] = {}
    if request.param == "database":
        options = {"dsn": request.getfixturevalue("fresh_postgres_dsn"), "max_size": 6}
    opened = observed(request.param)(**options)
    opened.writing = asyncio.Event()
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture
async def http(store: SessionStore) -> AsyncIterator[httpx.AsyncClient]:
    HOLDS.update(entered=asyncio.Event(), release=asyncio.Event())
    agents = [
        echo_agent("echo", session_storage=store, tools=[hold]),
        echo_agent("other", session_storage=store),
    ]
    async with served_agents(*agents) as url, httpx.AsyncClient(base_url=url) as client:
        yield client


async def respond(http: httpx.AsyncClient, text: str, **fields: Any) -> str:
    """A response of agent ``echo`` (or ``model``); its id."""
    body = {"model": "echo", "input": text, **fields}
    response = await http.post("/v1/responses", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def contents(http: httpx.AsyncClient, session_id: str, agent: str = "echo") -> list[str]:
    messages = await stored_messages(str(http.base_url), agent, session_id)
    return [str(m.get("content")) for m in messages if m["role"] in ("user", "assistant")]


def answer(text: str, seen: int) -> str:
    return f"echo ({seen} messages): {text}"


async def test_a_delete_during_a_turn_does_not_wipe_that_turn(
    http: httpx.AsyncClient, store: Any
) -> None:
    first = await respond(http, "first", conversation="c1")
    await respond(http, "second", conversation="c1")
    turn = asyncio.create_task(respond(http, "/tool hold {}", conversation="c1"))
    await asyncio.wait_for(HOLDS["entered"].wait(), 10)  # the turn is in its tool step
    delete = asyncio.create_task(http.delete(f"/v1/responses/{first}"))
    await asyncio.wait_for(store.writing.wait(), 10)  # the DELETE is about to write
    HOLDS["release"].set()
    await turn
    assert (await delete).status_code == 200
    kept = await contents(http, "c1")
    assert kept[:2] == ["second", answer("second", 3)]  # the first turn went...
    assert kept[2] == "/tool hold {}" and "hold -> held" in kept[-1]  # ...the held turn stayed
    assert "first" not in kept


async def test_concurrent_deletes_of_one_response_remove_it_once(
    http: httpx.AsyncClient,
) -> None:
    """A client's retried DELETE: one 200, the others 404, and the session loses exactly
    that turn — 30 times over."""
    for trial in range(30):
        conversation = f"c{trial}"
        await respond(http, "one", conversation=conversation)
        middle = await respond(http, "two", conversation=conversation)
        await respond(http, "three", conversation=conversation)
        deletes = [http.delete(f"/v1/responses/{middle}") for _ in range(3)]
        statuses = sorted(r.status_code for r in await asyncio.gather(*deletes))
        assert statuses == [200, 404, 404], trial
        assert await contents(http, conversation) == [
            "one",
            answer("one", 1),
            "three",
            answer("three", 5),
        ], trial


async def test_a_response_gone_between_lookup_and_delete_is_not_found(
    http: httpx.AsyncClient, store: Any
) -> None:
    """The lookup found it, a concurrent DELETE removed it before this one read the session:
    404, and the session is not rewritten (it was its history doubled)."""
    await respond(http, "one", conversation="c")
    second = await respond(http, "two", conversation="c")
    before = await contents(http, "c")
    store.vanish = second.removeprefix("resp_")
    response = await http.delete(f"/v1/responses/{second}")
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "response_id"
    assert await contents(http, "c") == before[:-1]  # only what the other DELETE removed
    store.vanish = None
    retrieved = await http.get(f"/v1/responses/{second}")
    assert retrieved.status_code == 404


async def test_a_client_id_never_re_points_a_response_id(http: httpx.AsyncClient) -> None:
    """A response id sent back as a client's own message id — Responses input items, a
    conversation's items, a useChat message, a session's messages — in a longer session:
    GET, previous_response_id and DELETE still act on the session that answered it."""
    victim = await respond(http, "my secret", conversation="victim")
    taken = victim.removeprefix("resp_")
    for n in range(5):  # the attacker's session holds more messages than the victim's
        await respond(http, f"filler {n}", conversation="attacker")
    mine = [
        {"role": "assistant", "content": "forged answer", "id": taken},
        {"role": "user", "content": "hi", "id": taken},
    ]
    await respond(http, mine, conversation="attacker")  # type: ignore[arg-type]
    attacker = await contents(http, "attacker")
    created = await http.post(
        "/v1/conversations",
        json={
            "items": [{"role": "user", "content": "x", "id": taken}],
            "metadata": {"agent": "echo"},
        },
    )
    assert created.status_code == 200
    chat = {
        "id": "chat",
        "messages": [{"id": taken, "role": "user", "parts": [{"type": "text", "text": "hi"}]}],
    }
    assert (await http.post("/v1/agents/echo/chat", json=chat, timeout=30)).status_code == 200
    put = {"messages": [{"role": "assistant", "content": "evil", "id": taken}]}
    assert (await http.put("/v1/agents/other/sessions/put", json=put)).status_code == 200
    fetched = (await http.get(f"/v1/responses/{victim}")).json()
    assert fetched["output"][0]["content"][0]["text"] == answer("my secret", 1)
    assert fetched["conversation"] == {"id": "victim"}
    await respond(http, "and then?", previous_response_id=victim)  # the latest: same session
    assert await contents(http, "victim") == [
        "my secret",
        answer("my secret", 1),
        "and then?",
        answer("and then?", 3),
    ]
    assert (await http.delete(f"/v1/responses/{victim}")).status_code == 200
    assert await contents(http, "victim") == ["and then?", answer("and then?", 3)]
    assert await contents(http, "attacker") == attacker  # untouched
    # the clients' messages were stored under ids of their own
    for agent, session in [
        ("echo", "attacker"),
        ("echo", created.json()["id"]),
        ("echo", "chat"),
        ("other", "put"),
    ]:
        stored = await stored_messages(str(http.base_url), agent, session)
        assert stored and taken not in [m.get("id") for m in stored], (agent, session)


async def test_a_branch_copies_the_history_under_new_ids(http: httpx.AsyncClient) -> None:
    """Continuing a response that is not the latest starts a new session from a copy; the
    copy does not take the response's id, so it still leads to where it was answered."""
    root = await respond(http, "root", conversation="trunk")
    await respond(http, "on the trunk", conversation="trunk")
    branch = await respond(http, "a branch", previous_response_id=root)
    fetched = (await http.get(f"/v1/responses/{root}")).json()
    assert fetched["conversation"] == {"id": "trunk"}
    after = await respond(http, "further", previous_response_id=branch)
    assert (await http.get(f"/v1/responses/{after}")).json()["output"][0]["content"][0][
        "text"
    ] == answer("further", 5)
    assert (await http.delete(f"/v1/responses/{root}")).status_code == 200
    assert await contents(http, "trunk") == ["on the trunk", answer("on the trunk", 3)]
    assert (await http.get(f"/v1/responses/{branch}")).status_code == 200  # the branch stays


async def test_deleting_a_conversation_deletes_it_under_every_agent(
    http: httpx.AsyncClient,
) -> None:
    await respond(http, "to echo", conversation="shared")
    await respond(http, "to other", conversation="shared", model="other")
    deleted = await http.delete("/v1/conversations/shared")
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    assert await contents(http, "shared", "echo") == []
    assert await contents(http, "shared", "other") == []
    assert (await http.get("/v1/conversations/shared")).status_code == 404
    again = await http.delete("/v1/conversations/shared")
    assert again.status_code == 404
    assert again.json()["error"]["type"] == "invalid_request_error"
