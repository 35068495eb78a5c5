"""The runtime's ``wrap_provider`` hook (what ``vel-runner eval`` puts its cassettes in): every
provider a build creates goes through it, at load and at reload; a provider a reload reuses is
not wrapped again; agents call the wrapper."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from vel_runner.providers import Provider
from vel_runner.providers.base import Chunk, Completion
from vel_runner.runtime import Runtime

CONFIG = """\
version: 1
providers:
  one: {type: echo}
  two: {type: echo, delay: DELAY}
agents:
  - id: a
    model: {provider: one, model: echo-1}
  - id: b
    model: {provider: two, model: echo-1}
"""


class Tagged:
    """A provider that says which wrapper answered."""

    def __init__(self, name: str, inner: Provider) -> None:
        self.name, self.inner, self.type = name, inner, inner.type

    async def complete(
        self, messages: Sequence[Any], *, model: str, settings: Mapping[str, Any]
    ) -> Completion:
        done = await self.inner.complete(messages, model=model, settings=settings)
        return Completion(f"[{self.name}] {done.text}", done.usage)

    async def stream(
        self, messages: Sequence[Any], *, model: str, settings: Mapping[str, Any]
    ) -> AsyncIterator[Chunk]:
        yield Chunk(f"[{self.name}] ")
        async for chunk in self.inner.stream(messages, model=model, settings=settings):
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_every_built_provider_is_wrapped_at_load_and_reload(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(CONFIG.replace("DELAY", "0"))
    made: list[str] = []

    def wrap(name: str, provider: Provider) -> Provider:
        made.append(name)
        return Tagged(name, provider)

    runtime = await Runtime.from_paths([path], watch=False, close_grace=0, wrap_provider=wrap)
    async with runtime:
        assert sorted(made) == ["one", "two"]
        assert await runtime.agent("a").run("hi") == "[one] echo (1 messages): hi"
        streamed = [e async for e in runtime.agent("b").run_stream("hi")]
        text = "".join(e["delta"] for e in streamed if e["type"] == "text-delta")
        assert text == "[two] echo (1 messages): hi"
        first_one = runtime.snapshot.providers["one"]

        path.write_text(CONFIG.replace("DELAY", "0.001"))  # only provider two changes
        assert await runtime.reload()
        assert made == [*made[:2], "two"]  # one was reused as it was, not wrapped again
        assert runtime.snapshot.providers["one"] is first_one
        assert isinstance(runtime.snapshot.providers["two"], Tagged)
        assert await runtime.agent("b").run("hi") == "[two] echo (1 messages): hi"
