"""The docs stand on their own: every relative link of README.md and docs/*.md resolves to a
file of this repository (and a ``#fragment`` to one of its headings), nothing points at text
outside it, and docs/library.md's Python examples run as written."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers.fake_openai import FakeOpenAI
from helpers.paths import REPO_ROOT
from helpers.server import serving

from vel_runner import Agent

REPO = REPO_ROOT
DOCS = [
    REPO / "README.md",
    *sorted((REPO / "docs").rglob("*.md")),
    REPO / "examples/web-chat/README.md",
]
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, ...


def links(markdown: str) -> list[str]:
    prose = FENCE.sub("", markdown)  # a link inside a code block is an example, not a link
    return INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)


def anchors(markdown: str) -> set[str]:
    """GitHub's heading ids: lowercase, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in FENCE.sub("", markdown).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", title)))
    return found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_relative_links_resolve_inside_the_repository(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for link in links(text):
        if EXTERNAL.match(link):
            continue
        path, _, fragment = link.partition("#")
        target = (doc.parent / path).resolve() if path else doc
        assert target.is_relative_to(REPO), f"{doc.name}: {link} points outside the repository"
        assert target.exists(), f"{doc.name}: {link} does not exist"
        if fragment and target.suffix == ".md":
            headings = anchors(target.read_text(encoding="utf-8"))
            assert fragment in headings, f"{doc.name}: {link}: no heading #{fragment}"


def test_nothing_refers_to_files_outside_the_repository() -> None:
    roots = [REPO / "README.md", REPO / "docs", REPO / "vel_runner", REPO / "examples"]
    files = [p for root in roots for p in ([root] if root.is_file() else root.rglob("*"))]
    texts = [
        p
        for p in files
        if p.is_file()
        and p.suffix in {".md", ".py", ".yaml", ".toml", ".mjs", ".jsx", ".json", ".html"}
        and "node_modules" not in p.parts  # installed packages, not ours
    ]
    assert len(texts) > 20
    offenders = [p for p in texts if "../shared" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_the_checker_sees_bad_links(tmp_path: Path) -> None:
    text = "see [a](../shared/spec/x.md), [b](http://example.com) and\n```\n[c](nowhere.md)\n```"
    assert links(text) == ["../shared/spec/x.md", "http://example.com"]
    assert "working-with-sessions-agentctxmgr" in anchors(
        "## Working with sessions: `agent.ctxmgr`"
    )


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, re.MULTILINE | re.DOTALL)


async def run_blocks(doc: str, namespace: dict[str, Any]) -> int:
    """Run docs/``doc``'s Python blocks in order in ``namespace``; how many there were."""
    blocks = python_blocks((REPO / "docs" / doc).read_text(encoding="utf-8"))
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"docs/{doc} block {number}", "exec", ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        result = eval(code, namespace)  # our own documentation, run as written
        if inspect.iscoroutine(result):
            await result
    return len(blocks)


async def test_library_guide_examples_run(
    fake_openai: FakeOpenAI, fresh_postgres_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-docs-test")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("POSTGRES_DSN", fresh_postgres_dsn)
    namespace: dict[str, Any] = {"__name__": "library_guide"}
    try:
        assert await run_blocks("library.md", namespace) >= 8
        assert namespace["answer2"] == "fake reply to: What is my name? (3 messages)"
        assert namespace["answer3"] == "fake reply to: Where do I live? (7 messages)"
        assert namespace["context"] == namespace["messages"] and namespace["removed"] is True
        assert namespace["record"].messages == namespace["messages"]
        assert namespace["refused"] == "approval_answered"  # the approval example ran to the end
        assert namespace["kept"] == namespace["messages"][:1]
        assert namespace["problem"].startswith(
            "messages[0].content contains a lone surrogate (U+DC00) at index 4"
        )
        rag = [r for r in fake_openai.requests if "Which plan" in str(r["messages"])]
        assert rag[-1]["messages"][0]["content"] == "Relevant context: Alice is on the Pro plan."
        db_agent = namespace["db_agent"]
        assert db_agent.store.kind == "database"
        assert len(await db_agent.ctxmgr.aget_session_context("user-123")) == 2
    finally:
        for value in namespace.values():
            if isinstance(value, Agent):
                await value.aclose()


async def test_protocols_guide_examples_run() -> None:
    """docs/protocols.md's typed events, its encoder and its route, served for real."""
    from helpers.server import sse_json

    from vel_runner.runtime import Runtime
    from vel_runner.server.app import create_app

    namespace: dict[str, Any] = {"__name__": "protocols_guide"}
    assert await run_blocks("protocols.md", namespace) == 3
    app = create_app(Runtime.from_agents([namespace["agent"]]))
    app.include_router(namespace["router"])
    async with serving(app) as base, httpx.AsyncClient(base_url=base) as http:
        body = {"message": "three words here", "session_id": "lines-1"}
        response = await http.post("/v1/agents/lines/lines", json=body)
    items = sse_json(response.text)
    assert "".join(i.get("text", "") for i in items) == "echo (1 messages): three words here"
    assert items[-1]["done"] is True and items[-1]["usage"]["completion_tokens"] > 0


async def test_tools_guide_examples_run() -> None:
    namespace: dict[str, Any] = {"__name__": "tools_guide"}
    try:
        assert await run_blocks("tools.md", namespace) >= 1
        assert namespace["answer"] == (
            'echo (3 messages): get_weather -> {"city": "Paris", "unit": "C", '
            '"temperature": 21, "source": "https://weather.example"}'
        )
        assert "api_base" not in str(namespace["weather"].spec.parameters)
    finally:
        for value in namespace.values():
            if isinstance(value, Agent):
                await value.aclose()
