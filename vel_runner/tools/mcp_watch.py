"""Noticing what a server's read stream does while nobody is calling it: it ends (a stdio
server's output closes) long before the next ping or call would tell, and it keeps delivering
messages while the server is busy (so a slow ping is not taken for a dead server)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class EndWatch:
    """A transport's read stream that calls ``on_end`` when it ends, so an idle server that
    exits is noticed at once (not at the next ping or call), and counts what it delivers."""

    def __init__(self, stream: Any, on_end: Callable[[], None]) -> None:
        self.stream = stream
        self.on_end = on_end
        #: Messages delivered so far (the connection's sign of life between pings).
        self.received = 0

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
            item = await self.stream.__anext__()
        except BaseException as exc:
            if not isinstance(exc, asyncio.CancelledError):
                self.on_end()
            raise
        self.received += 1
        return item

    async def receive(self) -> Any:
        return await self.__anext__()

    async def aclose(self) -> None:
        await self.stream.aclose()

    def close(self) -> None:
        self.stream.close()


__all__ = ["EndWatch"]
