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

Each event of the turn goes out as one write (its items' ``data:`` frames together), so a
delivered event is delivered whole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from types import TracebackType
from typing import TYPE_CHECKING, Any

from fastapi import Request
from starlette.responses import StreamingResponse

from ..errors import VelError
from ..events import TurnEvent, TurnFailed
from ..observe.logs import REQUEST_ID
from ..protocols import Encoder
from ..protocols.errors import client_text
from ..protocols.sse import DONE, data_frame
from .sse import sse_response
from .state import state_of

if TYPE_CHECKING:
    from ..agent import Agent
    from ..turn_options import TurnOptions

log = logging.getLogger("vel_runner.server")

INTERNAL = "internal error; see the server log"
Release = Callable[[], None]


async def lease_turn(request: Request, agent_id: str) -> TurnLease:
    """The agent ``agent_id`` of the current config, held for one turn."""
    agent, release = state_of(request).live.hold(agent_id)
    return TurnLease(agent, release)


def client_words() -> Callable[[BaseException], str]:
    """How this request's stream says a failure: a client's own mistake as it is, a failure of
    ours in words an end user can act on, with the request id (the detail goes to the log)."""
    request_id = REQUEST_ID.get()
    return lambda exc: client_text(exc, request_id)


def sse_encoder(encoder: Encoder) -> Callable[[TurnEvent], Sequence[bytes]]:
    """``encoder`` with each event's items as one chunk of ``data:`` frames."""
    encode = encoder.encode

    def frames(event: TurnEvent) -> Sequence[bytes]:
        items = encode(event)
        if not items:
            return ()
        if len(items) == 1:
            return (data_frame(items[0]),)
        return (b"".join(map(data_frame, items)),)

    return frames


class TurnLease:
    """One request's hold on its agent: released when the block ends, unless a stream took
    it over (then when the stream ends)."""

    __slots__ = ("_release", "agent")

    def __init__(self, agent: Agent, release: Release) -> None:
        self.agent = agent
        self._release: Release | None = release

    async def __aenter__(self) -> TurnLease:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()

    def _hand_over(self) -> Release:
        release, self._release = self._release, None
        if release is None:
            raise RuntimeError("this lease was already handed to a stream")
        return release

    def frames(
        self,
        input: Mapping[str, Any],
        session_id: str | None,
        encoder: Encoder,
        what: str,
        *,
        client_tools: Sequence[Mapping[str, Any]] = (),
        options: TurnOptions | None = None,
    ) -> AsyncGenerator[bytes]:
        """The agent's turn on ``input``, streamed through ``encoder`` as SSE frames. Bad
        input raises here, before anything is sent; from then on the frames hold the lease."""
        extra: dict[str, Any] = {"client_tools": client_tools}
        if options is not None:
            extra["options"] = options
        chunks = self.agent.stream(input, session_id, encode=sse_encoder(encoder), **extra)
        return turn_frames(chunks, encoder, self._hand_over(), what)

    def stream(
        self,
        input: Mapping[str, Any],
        session_id: str | None,
        encoder: Encoder,
        what: str,
        *,
        headers: Mapping[str, str] | None = None,
        client_tools: Sequence[Mapping[str, Any]] = (),
        options: TurnOptions | None = None,
    ) -> StreamingResponse:
        """The agent's turn on ``input`` as an SSE response (see :meth:`frames`)."""
        frames = self.frames(
            input, session_id, encoder, what, client_tools=client_tools, options=options
        )
        return sse_response(frames, headers=headers)


async def turn_frames(
    chunks: AsyncGenerator[bytes], encoder: Encoder, release: Release, what: str
) -> AsyncGenerator[bytes]:
    """A turn's frames (``chunks``: each event's, from :func:`sse_encoder`), then the terminal
    frame; ``release`` lets the agent go when they end.

    A cancellation thrown in at a frame (a chat run stopping an answer nobody read) goes on
    into the turn, so it keeps only what was taken.
    """
    try:
        async with aclosing(chunks):
            async for chunk in chunks:
                try:
                    yield chunk
                except asyncio.CancelledError:
                    await chunks.athrow(asyncio.CancelledError())
                    raise
    except VelError as exc:  # its failure frames were sent already, in words for a client
        log.warning("streamed turn of %s failed: %s", what, exc)  # the detail, for the log
    except Exception as exc:
        log.error("streamed turn of %s failed: %s", what, type(exc).__name__, exc_info=exc)
        for item in encoder.encode(TurnFailed(VelError(INTERNAL))):
            yield data_frame(item)
    finally:
        release()
    if encoder.ends_with_done:
        yield DONE
