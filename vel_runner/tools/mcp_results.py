"""An MCP ``CallToolResult`` as what a tool returns: structured content as JSON, text as text,
``isError`` as the tool error path (the model reads ``{"error": ...}``), and every other
content type described in words (a chat completions ``tool`` message carries text only), so
nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import ToolCallError


def describe_block(block: Any) -> str:
    """One content block as text: text as is, anything else described (type, MIME, size)."""
    kind = getattr(block, "type", "?")
    if kind == "text":
        return str(block.text)
    if kind in ("image", "audio"):
        size = len(getattr(block, "data", "") or "") * 3 // 4  # base64 -> bytes
        return f"[{kind} {getattr(block, 'mime_type', '?')}, about {size} bytes, not shown]"
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if isinstance(text, str):
            return text
        mime = getattr(resource, "mime_type", None) or "binary"
        return f"[resource {resource.uri} ({mime}), not shown]"
    if kind == "resource_link":
        return f"[resource link {block.uri}: {getattr(block, 'description', None) or block.name}]"
    return f"[{kind} content, not shown]"


def result_value(result: Any, tool: str) -> Any:
    """The value of a call's result for the model, or :class:`ToolCallError` when
    ``isError`` is set (its text is the error the model reads)."""
    blocks: Sequence[Any] = result.content or ()
    if result.is_error:
        text = "\n".join(describe_block(b) for b in blocks) or f"{tool} failed"
        raise ToolCallError(text)
    if result.structured_content is not None:
        return result.structured_content
    texts = [describe_block(b) for b in blocks]
    if len(texts) == 1:
        return texts[0]
    return "\n".join(texts)


__all__ = ["describe_block", "result_value"]
