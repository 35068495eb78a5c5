"""The SSE frames every streaming route writes, from the one module that writes them."""

from __future__ import annotations

from vel_runner.server import sse


def test_frames() -> None:
    assert sse.data_frame({"type": "text-delta", "delta": "é"}) == (
        b'data: {"type":"text-delta","delta":"\\u00e9"}\n\n'
    )
    assert sse.named_frame("updated", {"n": 1}) == b'event: updated\ndata: {"n":1}\n\n'
    assert sse.DONE == b"data: [DONE]\n\n"
    assert (sse.PING, sse.CONNECTED) == (b": ping\n\n", b": connected\n\n")
    assert sse.comment("x") == b": x\n\n"


def test_stream_choice() -> None:
    assert sse.wants_stream(None, True) and sse.wants_stream("text/event-stream", None)
    assert not sse.wants_stream("application/json", False)
