"""Noticing that an MCP server went away while nobody was calling it: the transport's read
stream ends (a stdio server's output closes) long before the next ping or call would tell."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class EndWatch:
    """A transport's read stream that calls ``on_end`` when it ends, so an idle server that
    exits is noticed at once (not at the next ping or call)."""

    def __init__(self, stream: Any, on_end: Callable[[], None]) -> None:
        self.stream = stream
        self.on_end = on_end

    @property
    def last_context(self) -> Any:  # the SDK reads it when present
        return getattr(self.stream, "last_context", None)

    async def __aenter__(self) -> EndWatch:
        await self.stream.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self.stream.__aexit__(*exc)

    def __aiter__(self) -> EndWatch:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.stream.__anext__()
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self.on_end()
            raise

    async def receive(self) -> Any:
        return await self.__anext__()

    async def aclose(self) -> None:
        await self.stream.aclose()

    def close(self) -> None:
        self.stream.close()


__all__ = ["EndWatch"]
