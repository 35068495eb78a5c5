"""How an MCP server's failures read: a short reason a person (and the model reading a tool
result) can act on, and never a secret of its declaration (header and env values,
credentials in its url).

A failed connection reads as why (with the transport and where it points); a failed request
as what happened to the call. :func:`breaks_connection` says which request failures mean the
connection itself is gone, so the owner reconnects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..redact import credentials_in, redact
from .base import ToolCallError


def secrets_of(decl: Mapping[str, Any]) -> list[str]:
    """Header and env values, credentials in the url: never shown."""
    values = [*decl.get("headers", {}).values(), *decl.get("env", {}).values()]
    return [*map(str, values), *credentials_in(decl.get("url", ""))]


def transport_of(decl: Mapping[str, Any]) -> str:
    return "http" if "url" in decl else "stdio"


def connect_failure(
    exc: BaseException, name: str, decl: Mapping[str, Any], connect_timeout: float
) -> str:
    """A short, redacted reason for a failed connection (or tool listing)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, TimeoutError):
        return (
            f"no answer within {connect_timeout:g}s (if the server is only slow to "
            f"start, raise tools.{name}.connect_timeout)"
        )
    if isinstance(exc, ToolCallError):
        return str(exc)
    text = str(exc) or type(exc).__name__
    where = decl.get("url") or decl.get("command")
    return redact(f"{type(exc).__name__}: {text} ({transport_of(decl)} {where})", secrets_of(decl))


def breaks_connection(exc: BaseException) -> bool:
    """Did the request fail because the connection broke (closed by the server, a transport
    error)? A timeout does not: the server may only be slow."""
    from mcp import MCPError
    from mcp_types import CONNECTION_CLOSED

    if isinstance(exc, MCPError):
        return exc.code == CONNECTION_CLOSED
    return isinstance(exc, (OSError, EOFError)) and not isinstance(exc, TimeoutError)


def call_failure(
    exc: BaseException,
    name: str,
    decl: Mapping[str, Any],
    what: str,
    timeout: float,
    not_connected: str | None,
) -> ToolCallError:
    """What a request that raised ``exc`` (an ``MCPError``, a timeout, a transport error)
    tells its caller. ``not_connected``: why the request got no session (``None``: it did)."""
    from mcp import MCPError
    from mcp_types import CONNECTION_CLOSED

    server = f"MCP server {name!r}"
    if isinstance(exc, TimeoutError):
        if not_connected is not None:
            text = f"{server} was not connected within {timeout:g} s: {not_connected}"
        else:
            text = f"{server}: {what} did not answer within {timeout:g} s"
        return ToolCallError(text)
    if isinstance(exc, MCPError):
        if exc.code == CONNECTION_CLOSED:
            return ToolCallError(f"{server} closed the connection during the call")
        return ToolCallError(redact(f"{server}: {exc.message}", secrets_of(decl)))
    text = f"{server} failed: {type(exc).__name__}: {exc}"
    return ToolCallError(redact(text, secrets_of(decl)))


__all__ = ["breaks_connection", "call_failure", "connect_failure", "secrets_of", "transport_of"]
