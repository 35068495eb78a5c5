"""Turns on the wire: the one helper every turn route uses, streamed or not.

A route takes its agent with :func:`lease_turn` (``async with await lease_turn(...) as held``)
and either awaits a whole turn or hands a streamed one to :meth:`TurnLease.stream` (an SSE
response) or :meth:`TurnLease.frames` (the frames, for a chat run that replays them). From
then on the stream owns what a streamed turn needs, the same way for every protocol:

- the lease: the agent stays usable (a reload will not close it) until the stream ends;
- ``aclosing``: the turn's stream is closed when the frames end, however they end, and the
  response closes the frames when the client goes away (so the turn stores what it delivered
  and lets its session go at once, not when the garbage collector gets to it);
- errors: a turn that fails has already sent its protocol's failure items (the encoder's
  answer to :class:`~vel_runner.events.TurnFailed`) and is logged here; anything unexpected
  is logged with its traceback and sent as an internal error in the same way;
- the terminal frame: ``data: [DONE]`` for the protocols that end with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Mapping
from contextlib import AsyncExitStack, aclosing
from types import TracebackType
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import StreamingResponse

from ..errors import VelError
from ..events import TurnFailed
from ..protocols import Encoder
from ..protocols.sse import DONE, data_frame
from .sse import sse_response
from .state import state_of

if TYPE_CHECKING:
    from ..agent import Agent

log = logging.getLogger("vel_runner.server")

INTERNAL = "internal error; see the server log"


async def lease_turn(request: Request, agent_id: str) -> TurnLease:
    """The agent ``agent_id`` of the current config, held for one turn."""
    agent, stack = await state_of(request).lease(agent_id)
    return TurnLease(agent, stack)


class TurnLease:
    """One request's hold on its agent: released when the block ends, unless a stream took
    it over (then when the stream ends)."""

    __slots__ = ("_lease", "agent")

    def __init__(self, agent: Agent, lease: AsyncExitStack) -> None:
        self.agent = agent
        self._lease: AsyncExitStack | None = lease

    async def __aenter__(self) -> TurnLease:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        lease, self._lease = self._lease, None
        if lease is not None:
            await lease.aclose()

    def _hand_over(self) -> AsyncExitStack:
        lease, self._lease = self._lease, None
        if lease is None:
            raise RuntimeError("this lease was already handed to a stream")
        return lease

    def frames(
        self, items: AsyncGenerator[Any], encoder: Encoder, what: str
    ) -> AsyncGenerator[bytes]:
        """The streamed turn's items as SSE frames; the frames hold the lease from now on."""
        return turn_frames(items, encoder, self._hand_over(), what)

    def stream(
        self,
        items: AsyncGenerator[Any],
        encoder: Encoder,
        what: str,
        headers: Mapping[str, str] | None = None,
    ) -> StreamingResponse:
        """The streamed turn as an SSE response; it holds the lease from now on."""
        return sse_response(self.frames(items, encoder, what), headers=headers)


async def turn_frames(
    items: AsyncGenerator[Any], encoder: Encoder, lease: AsyncExitStack, what: str
) -> AsyncGenerator[bytes]:
    """``items`` (a turn's encoded events) as ``data:`` frames, then the terminal frame.

    A cancellation thrown in at a frame (a chat run stopping an answer nobody read) goes on
    into the turn, so it keeps only what was taken.
    """
    async with lease:
        try:
            async with aclosing(items):
                async for item in items:
                    try:
                        yield data_frame(item)
                    except asyncio.CancelledError:
                        await items.athrow(asyncio.CancelledError())
                        raise
        except VelError as exc:  # its failure items were sent already
            log.warning("streamed turn of %s failed: %s", what, exc)
        except Exception as exc:
            log.error("streamed turn of %s failed: %s", what, type(exc).__name__, exc_info=exc)
            for item in encoder.encode(TurnFailed(VelError(INTERNAL))):
                yield data_frame(item)
    if encoder.ends_with_done:
        yield DONE
