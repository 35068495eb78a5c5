"""Wire protocols: encoders from a turn's typed events (:mod:`vel_runner.events`) to what a
client reads. Free of FastAPI: each encoder is plain code over plain values, and the server's
one streaming helper (:mod:`vel_runner.server.streaming`) puts them on the wire.

- :mod:`.ui_stream`: the AI SDK UI message stream (``Agent.run_stream``, runs SSE, useChat);
- :mod:`.runs`: the runs route's JSON answer;
- :mod:`.chat_completions`: OpenAI chat completions, whole and as chunks;
- :mod:`.responses`: the OpenAI Responses API, whole and as stream events.

An encoder serves one turn: ``encode(event)`` returns the items that event becomes (JSON-ready
dicts; none for events the protocol does not show), and ``ends_with_done`` says whether its
SSE stream ends with ``data: [DONE]``. A whole (non-streamed) answer is built from the
:class:`~vel_runner.turn_result.TurnResult`, the same object the last event carries, so a
protocol's streamed and whole forms cannot disagree. Adding a protocol is one encoder here
and one route (docs/protocols.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ..events import TurnEvent


class Encoder(Protocol):
    """One turn's encoder for one protocol."""

    #: Does this protocol's SSE stream end with ``data: [DONE]``?
    ends_with_done: bool

    def encode(self, event: TurnEvent) -> Sequence[Any]:
        """The items ``event`` becomes (often one; none when the protocol does not show it)."""
        ...
