"""Bearer-key auth for ``/v1`` routes, as a pure ASGI middleware (no per-request task).

Health routes (``/healthz``, ``/readyz``) and the OpenAPI document stay open so that load
balancers and tooling work without the key. The key is compared in constant time and never
echoed or logged.
"""

from __future__ import annotations

import hmac

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_response

PROTECTED_PREFIX = "/v1"


class BearerAuth:
    """Answer 401 ``unauthorized`` to ``/v1`` requests without ``Authorization: Bearer <key>``."""

    def __init__(
        self, app: ASGIApp, api_key: str, protected: tuple[str, ...] = (PROTECTED_PREFIX,)
    ) -> None:
        if not api_key:
            raise ValueError("BearerAuth needs a non-empty API key")
        self.app = app
        self._expected = api_key.encode()
        self._protected = protected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith(self._protected)
            and not self._authorized(scope)
        ):
            response = error_response(
                401,
                "missing or wrong API key: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization":
                # the scheme is case-insensitive (RFC 9110 11.1): "bearer" and "BEARER" count
                scheme, _, key = value.partition(b" ")
                return scheme.lower() == b"bearer" and hmac.compare_digest(
                    key.lstrip(b" "), self._expected
                )
        return False
