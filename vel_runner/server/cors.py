"""CORS, so that a web page on another origin (a dev server on :5173, a Next.js app) can call
the API from the browser: off unless origins are configured (``--cors-origin``,
``VEL_CORS_ORIGINS``).

Starlette's :class:`~starlette.middleware.cors.CORSMiddleware` answers the preflight of every
route with the methods the API has and the headers the request asks for (``Content-Type``,
``Authorization`` for an API key, ``X-Session-Id``, the SDKs' own), and exposes the headers a
page reads (``X-Request-Id``, ``X-Session-Id``). An origin not listed gets no
``Access-Control-Allow-Origin``, so its browser refuses the answer. It sits outside the auth
and body-limit middleware: a preflight carries no key, and a 401 or 413 must reach the page
readable.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

#: The methods the API's routes answer.
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
#: Response headers a page's script may read.
EXPOSED_HEADERS = ("X-Request-Id", "X-Session-Id", "x-vercel-ai-ui-message-stream")
#: Seconds a browser may cache a preflight answer.
PREFLIGHT_MAX_AGE = 600


def add_cors(app: FastAPI, origins: Sequence[str]) -> None:
    """Allow ``origins`` (``*``: any) to call ``app`` from a browser; nothing when empty."""
    if not origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=list(CORS_METHODS),
        allow_headers=["*"],  # mirrors what the preflight asks, Authorization included
        expose_headers=list(EXPOSED_HEADERS),
        allow_credentials=False,  # the API key travels in a header, never in a cookie
        max_age=PREFLIGHT_MAX_AGE,
    )
