"""The JSON Schemas of agents.yaml and of eval files, the one description of each file's
structure: loading them, reading their definitions and enums, and filling in the defaults
they declare, so the code that builds agents never restates them. Checking a document against
one is :mod:`vel_runner.config.schema_check`.

``schema/agents.schema.json`` describes the config, ``schema/eval.schema.json`` the
``*.eval.yaml`` files (see :mod:`vel_runner.eval`).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

#: The published schemas: ``agents`` (agents.yaml) and ``eval`` (``*.eval.yaml``).
SchemaName = Literal["agents", "eval"]


def schema_text(name: SchemaName = "agents") -> str:
    """The schema as shipped: the package resource, else the repository's ``schema/`` file."""
    resource = f"schema/{name}.schema.json"
    try:
        return resources.files("vel_runner").joinpath(resource).read_text("utf-8")
    except (FileNotFoundError, NotADirectoryError, OSError):
        repo_copy = Path(__file__).resolve().parents[2] / resource
        return repo_copy.read_text("utf-8")


@cache
def load_schema(name: SchemaName = "agents") -> dict[str, Any]:
    return json.loads(schema_text(name))


@cache
def inlined(name: SchemaName = "agents") -> dict[str, Any]:
    """The schema with every local ``$ref`` replaced by its target (see :func:`_inline_refs`)."""
    return _inline_refs(load_schema(name), load_schema(name)["$defs"])


def _inline_refs(schema: Any, defs: dict[str, Any]) -> Any:
    """The schema with each local ``$ref`` replaced by its target (the schema has no
    recursion): validation then skips the reference lookups (docs/performance.md)."""
    if isinstance(schema, list):
        return [_inline_refs(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: _inline_refs(value, defs) for key, value in schema.items() if key != "$ref"}
    if "$ref" not in schema:
        return result
    target = _inline_refs(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    siblings = {k: v for k, v in result.items() if k not in ("description", "default", "$defs")}
    return {"allOf": [target], **siblings} if siblings else target


def definition(name: str) -> dict[str, Any]:
    """``$defs[name]`` of the schema."""
    return load_schema()["$defs"][name]


def enum_values(def_name: str, prop: str) -> list[Any]:
    """The allowed values of ``$defs[def_name].properties[prop]``."""
    return list(definition(def_name)["properties"][prop]["enum"])


def with_defaults(data: Any) -> Any:
    """``data`` (valid; changed in place) with every default the schema declares filled in."""
    _fill(load_schema(), data)
    return data


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        merged = {k: v for k, v in schema.items() if k != "$ref"}
        target = definition(schema["$ref"].rsplit("/", 1)[-1])
        schema = {**target, **merged}
    return schema


def _fill(schema: dict[str, Any], value: Any) -> None:
    schema = _resolve(schema)
    if isinstance(value, dict):
        for key, sub in schema.get("properties", {}).items():
            sub = _resolve(sub)
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                _fill(sub, value[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                if key not in schema.get("properties", {}):
                    _fill(extra, item)
        for branch in schema.get("allOf", []):
            condition = branch.get("if", {}).get("properties", {})
            if all(value.get(k) == v.get("const") for k, v in condition.items()):
                _fill(branch.get("then", {}), value)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            _fill(schema["items"], item)


__all__ = [
    "SchemaName",
    "definition",
    "enum_values",
    "inlined",
    "load_schema",
    "schema_text",
    "with_defaults",
]
