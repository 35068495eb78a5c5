"""The echo provider's answers to a ``response_format``: JSON, so offline agents with an
``output`` schema (the shipped config, tests, CI) show structured output end to end.

The rule is deterministic: when the user's message is itself JSON, that JSON is the answer, as
it is (valid or not: how a test makes the model answer out of shape and sees the repair);
otherwise the answer is an object built from the schema, its strings filled with the text echo
would have said (``echo (N messages): ...``), enums with their first value, numbers with their
minimum or 0, lists empty. A ``json_object`` request gets ``{"echo": text}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: Nesting past this depth is cut (a schema that refers to itself).
MAX_DEPTH = 8


def structured_answer(response_format: Mapping[str, Any], said: str, text: str) -> str | None:
    """The JSON text answering ``response_format`` (``None``: it asks for plain text).

    ``said`` is the user's message (used as it is when it is JSON), ``text`` what echo would
    have answered in prose.
    """
    kind = response_format.get("type")
    if kind not in ("json_schema", "json_object"):
        return None
    try:
        json.loads(said)
    except ValueError:
        pass
    else:
        return said.strip()
    if kind == "json_object":
        return json.dumps({"echo": text})
    schema = (response_format.get("json_schema") or {}).get("schema") or {}
    return json.dumps(example(schema, text, schema), ensure_ascii=False)


def example(schema: Any, text: str, root: Mapping[str, Any], depth: int = 0) -> Any:
    """A value valid against ``schema`` (the subset strict mode allows), ``text`` in its
    strings; ``root`` resolves local ``$ref``s (``#/$defs/...``)."""
    if not isinstance(schema, Mapping) or depth > MAX_DEPTH:
        return None
    if "$ref" in schema:
        return example(_resolve(root, str(schema["$ref"])), text, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(key, ()) if not _is_null(b)]
        if branches:
            return example(branches[0], text, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        return {name: example(sub, text, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        count = int(schema.get("minItems", 0))
        return [example(schema.get("items") or {}, text, root, depth + 1) for _ in range(count)]
    if kind == "string":
        limit = schema.get("maxLength")
        value = text[:limit] if isinstance(limit, int) else text
        return value.ljust(int(schema.get("minLength", 0)), ".")
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        value = max(0, low + (1 if "exclusiveMinimum" in schema else 0))
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return False
    return None


def _is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null"


def _resolve(root: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        return None
    node: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, Mapping) else None
    return node
