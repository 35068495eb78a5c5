"""JSON Schemas for tools: from a function's type hints (pydantic), made acceptable to OpenAI's
strict mode (``strict: true`` makes the model's arguments always match the schema).

Strict mode wants every object closed (``additionalProperties: false``) with every property
required. A parameter with a default therefore becomes required and nullable: the model sends
``null`` to mean "use the default", and the call leaves the argument out. What strict mode
cannot express at all (a free-form ``dict``, ``Any``, a tuple) is a definition error that names
the parameter, so ``vel-runner validate`` reports it at the tool's line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: Keywords strict mode refuses, with what to write instead.
UNSUPPORTED = {
    "allOf": "use a single model or type",
    "not": "describe the allowed values instead",
    "if": "describe the allowed values instead",
    "patternProperties": "use a pydantic model with named fields",
    "prefixItems": "use list[...] instead of a tuple",
}


def strict_schema(
    schema: Mapping[str, Any], defaulted: set[str]
) -> tuple[dict[str, Any], list[str]]:
    """``schema`` (a pydantic model's) made strict, and the problems strict mode would refuse.

    ``defaulted`` are the top-level properties that have defaults: they become nullable.
    """
    problems: list[str] = []
    out = _walk(schema, "", problems)
    for name in defaulted:
        prop = out["properties"].get(name)
        if prop is None:
            continue
        prop.pop("default", None)
        if not _nullable(prop):
            described = {"description": prop.pop("description")} if "description" in prop else {}
            out["properties"][name] = {"anyOf": [prop, {"type": "null"}], **described}
    return out, problems


def _nullable(schema: Mapping[str, Any]) -> bool:
    if schema.get("type") == "null":
        return True
    return any(_nullable(s) for s in schema.get("anyOf", ()))


def _walk(node: Any, where: str, problems: list[str]) -> Any:
    if isinstance(node, list):
        return [_walk(item, where, problems) for item in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key in ("properties", "$defs"):
            out[key] = {
                name: _walk(sub, f"{where}.{name}" if key == "properties" else name, problems)
                for name, sub in value.items()
            }
        elif key == "default" and value is None:
            continue
        else:
            out[key] = _walk(value, where, problems)
    label = where.lstrip(".") or "the arguments"
    for key, hint in UNSUPPORTED.items():
        if key in out:
            problems.append(f"{label}: strict mode does not support '{key}' ({hint})")
    is_object = out.get("type") == "object"
    if is_object:
        extra = out.get("additionalProperties")
        if "properties" not in out or (extra not in (None, False)):
            problems.append(
                f"{label}: a free-form object (dict) is not allowed in strict mode "
                "(use a pydantic model or TypedDict with named fields)"
            )
        out["additionalProperties"] = False
        out["required"] = list(out.get("properties", {}))
    elif not ({"type", "$ref", "anyOf", "enum", "const"} & out.keys()) and where:
        problems.append(f"{label}: a value of any type is not allowed in strict mode (give a type)")
    return out


_SECTION = re.compile(r"^(Args|Arguments|Parameters|Params)\s*:?$")
_END = re.compile(r"^(Returns?|Raises|Yields|Examples?|Notes?|See Also|Attributes)\s*:?$")
_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*(?::\s*(.*))?$")
_SPHINX = re.compile(r"^:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The description (its first paragraph) and the per-parameter descriptions of a
    Google-, NumPy- or Sphinx-style docstring."""
    if not doc:
        return "", {}
    import inspect

    description: list[str] = []
    params: dict[str, str] = {}
    current: str | None = None
    section: str | None = None  # None (description), "args", "other"
    numpy = False
    entry_indent = -1
    for line in inspect.cleandoc(doc).splitlines():
        stripped, indent = line.strip(), len(line) - len(line.lstrip())
        sphinx = _SPHINX.match(stripped)
        if sphinx:
            current, section = sphinx.group(1), "sphinx"
            params[current] = sphinx.group(2).strip()
        elif stripped.startswith(":"):
            current, section = None, "other"
        elif _SECTION.match(stripped):
            section, current, entry_indent, numpy = "args", None, -1, False
        elif _END.match(stripped):
            section, current = "other", None
        elif stripped and set(stripped) <= {"-", "="}:
            numpy = section == "args"
        elif section == "args" and stripped:
            if entry_indent < 0:
                entry_indent = indent
            if indent > entry_indent and current is not None:
                params[current] = f"{params[current]} {stripped}".strip()
            elif match := _ENTRY.match(stripped):
                current = match.group(1)
                params[current] = "" if numpy else (match.group(2) or "").strip()
        elif section == "sphinx" and stripped and current is not None:
            params[current] = f"{params[current]} {stripped}"
        elif section is None:
            description.append(line)
    first = "\n".join(description).strip().split("\n\n")[0]
    return " ".join(first.split()), params
