"""JSON Schemas for OpenAI's strict mode: tool parameters made from a function's type hints
(pydantic), and hand-written schemas (an agent's structured ``output``) checked as they are.

Strict mode (``strict: true`` makes the model's arguments, or its answer, always match the
schema) wants every object closed (``additionalProperties: false``) with every property
required. A generated schema is made so: a parameter with a default becomes required and
nullable, the model sends ``null`` to mean "use the default", and the call leaves the argument
out. A hand-written schema is never rewritten behind its author's back (that would change what
it means); :func:`strict_problems` names what to change instead. What strict mode cannot
express at all (a free-form ``dict``, ``Any``, a tuple) is a problem either way, named by its
place, so ``vel-runner validate`` reports it at the declaration's line.
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
    out = _walk(schema, "", problems, close=True)
    for name in defaulted:
        prop = out["properties"].get(name)
        if prop is None:
            continue
        prop.pop("default", None)
        if not _nullable(prop):
            described = {"description": prop.pop("description")} if "description" in prop else {}
            out["properties"][name] = {"anyOf": [prop, {"type": "null"}], **described}
    return out, problems


def strict_problems(schema: Mapping[str, Any]) -> list[str]:
    """What strict mode would refuse in a hand-written ``schema``, which is used as it is: the
    same checks as :func:`strict_schema`, plus that every object is already closed with every
    property required, and that the root is an object (what OpenAI accepts at the root)."""
    problems: list[str] = []
    if schema.get("type") != "object":
        problems.append("the root must be an object (type: object) with properties")
    _walk(schema, "", problems, close=False, root="the root object")
    return problems


def _nullable(schema: Mapping[str, Any]) -> bool:
    if schema.get("type") == "null":
        return True
    return any(_nullable(s) for s in schema.get("anyOf", ()))


def _walk(
    node: Any, where: str, problems: list[str], *, close: bool, root: str = "the arguments"
) -> Any:
    """``node`` with titles and null defaults left out, each problem added to ``problems``
    (named by its property path, or ``root``).

    ``close``: close every object and require all its properties (a generated schema);
    otherwise report an object that is not so (a hand-written one).
    """
    if isinstance(node, list):
        return [_walk(item, where, problems, close=close, root=root) for item in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key in ("properties", "$defs"):
            out[key] = {
                name: _walk(
                    sub,
                    f"{where}.{name}" if key == "properties" else name,
                    problems,
                    close=close,
                    root=root,
                )
                for name, sub in value.items()
            }
        elif key == "default" and value is None:
            continue
        else:
            out[key] = _walk(value, where, problems, close=close, root=root)
    label = where.lstrip(".") or root
    for key, hint in UNSUPPORTED.items():
        if key in out:
            problems.append(f"{label}: strict mode does not support '{key}' ({hint})")
    kind = out.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind):
        extra = out.get("additionalProperties")
        if "properties" not in out or (extra not in (None, False)):
            problems.append(
                f"{label}: a free-form object (dict) is not allowed in strict mode "
                "(give it named properties: a pydantic model or TypedDict)"
            )
        if close:
            out["additionalProperties"] = False
            out["required"] = list(out.get("properties", {}))
        else:
            _check_closed(out, label, problems)
    elif not ({"type", "$ref", "anyOf", "enum", "const"} & out.keys()) and where:
        problems.append(f"{label}: a value of any type is not allowed in strict mode (give a type)")
    return out


def _check_closed(node: Mapping[str, Any], label: str, problems: list[str]) -> None:
    """A hand-written object must say ``additionalProperties: false`` and require every
    property (strict mode's rule; an optional property is written as nullable instead)."""
    if "properties" in node and "additionalProperties" not in node:
        problems.append(f"{label}: strict mode needs additionalProperties: false on every object")
    required = node.get("required", ())
    missing = [name for name in node.get("properties", {}) if name not in required]
    if missing:
        problems.append(
            f"{label}: strict mode needs every property in required; missing "
            f'{", ".join(missing)} (for an optional one, allow null: type: [string, "null"])'
        )


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
