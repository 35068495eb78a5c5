"""Request body size limit, as a pure ASGI middleware.

A declared ``Content-Length`` over the limit is refused before reading (the server reads no
more than it declares, so such a body needs no counting); a chunked body is counted as it
arrives and refused (413 ``payload_too_large``) as soon as it passes the limit,
so a client cannot make the server buffer an unbounded body.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError, error_response
from .settings import DEFAULT_MAX_BODY_BYTES


class BodyLimit:
    """Refuse bodies larger than ``max_bytes`` with 413."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"request body is larger than the limit of {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_bytes:
                    status = 400 if not value.isdigit() else 413
                    text = "bad Content-Length header" if status == 400 else self._message()
                    await error_response(status, text)(scope, receive, send)
                    return
                # the server delivers exactly the declared length: nothing left to count
                await self.app(scope, receive, send)
                return
        received = 0
        limit = self.max_bytes

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise ApiError(413, self._message())
            return message

        await self.app(scope, counted, send)
