"""Checking a document against the schema: every violation as a :class:`ConfigIssue` at the
right line, with a did-you-mean for unknown keys and the allowed values for enums.

The check runs on jsonschema-rs (compiled) rather than the Python ``jsonschema``, whose import
alone cost more than the rest of ``vel-runner validate`` (docs/performance.md); its errors
are resolved against the inlined schema into :class:`SchemaError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

from .errors import ConfigIssue, DocPath, did_you_mean
from .loader import Document
from .schema import SchemaName, inlined, load_schema

#: Keys whose values are never shown in messages.
SECRET_KEYS = frozenset({"api_key", "dsn"})
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "true or false",
    "null": "null",
}


@cache
def _validator(name: SchemaName = "agents") -> Any:
    # jsonschema-rs (compiled) rather than jsonschema: importing the latter costs more than
    # all the rest of ``vel-runner validate`` (docs/performance.md). Its ``pattern`` is
    # ECMA-262's, as editors use: ``$`` matches only at the end ("name\n" is refused).
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(inlined(name))


@dataclass(frozen=True, slots=True)
class SchemaError:
    """One schema violation, resolved against the inlined schema as the messages need it."""

    #: the keyword that failed (``type``, ``enum``, ``required`` ...)
    validator: str
    #: that keyword's value in the schema
    validator_value: Any
    #: the value that failed (for a ``propertyNames`` error: the key)
    instance: Any
    #: the (inlined) schema object that holds the keyword
    schema: dict[str, Any]
    absolute_path: DocPath
    in_property_names: bool = False
    #: for ``anyOf`` / ``oneOf``: the errors of every alternative
    context: tuple[SchemaError, ...] = ()


def _schema_errors(data: Any, name: SchemaName) -> list[SchemaError]:
    root = inlined(name)
    return [_resolved(raw, data, root) for raw in _validator(name).iter_errors(data)]


def _resolved(raw: Any, data: Any, root: dict[str, Any]) -> SchemaError:
    """``raw`` (a jsonschema-rs error) with its keyword's schema and the document's own value
    (jsonschema-rs hands back NaN and infinities as null)."""
    schema_path = list(raw.schema_path)
    keyword = str(schema_path[-1]) if schema_path else ""
    schema: Any = root
    for part in schema_path[:-1]:
        schema = _child(schema, part)
    schema = schema if isinstance(schema, dict) else {}
    kind = raw.kind
    path: DocPath = tuple(raw.instance_path)
    in_names = "propertyNames" in schema_path
    instance = data
    for part in path:
        instance = _child(instance, part)
    if kind.name == "propertyNames":
        instance = kind.error.instance
    context: tuple[SchemaError, ...] = ()
    if kind.name in ("anyOf", "oneOf"):
        context = tuple(_resolved(sub, data, root) for branch in kind.context for sub in branch)
    return SchemaError(keyword, schema.get(keyword), instance, schema, path, in_names, context)


def schema_issues(
    doc: Document, bad_paths: set[DocPath] | None = None, *, schema: SchemaName = "agents"
) -> list[ConfigIssue]:
    """Every violation of the ``schema`` in ``doc`` (none for values whose ``${VAR}`` is unset).

    The document paths of the violations are added to ``bad_paths`` when it is given.
    """
    issues: list[ConfigIssue] = []
    objects: set[DocPath] = set()  # the objects the errors lie in or on
    shown: set[tuple[str, str]] = set()
    for error in _schema_errors(doc.data, schema):
        error = _most_specific(error)
        path = error.absolute_path
        env = doc.env.get(path)
        if env is not None and env.missing and not _wants_structure(error):
            continue  # the unset variable is reported on its own, where it matters
        if bad_paths is not None:
            bad_paths.add(path)
        for issue in _issues_for(doc, error, path, schema):
            if (issue.path, issue.message) not in shown:  # one per variant of a oneOf
                shown.add((issue.path, issue.message))
                issues.append(issue)
        objects.update({path, path[:-1]} if path else {path})
    for path in sorted(objects, key=len):
        extra = _unknown_variant_keys(doc, path, inlined(schema))
        issues.extend(issue for issue in extra if (issue.path, issue.message) not in shown)
    return issues


def _wants_structure(error: SchemaError) -> bool:
    """Whether ``error`` wants a mapping or a list where an unset ``${VAR}`` stands: nothing
    can be built there, so it is an error of the file, not only of the environment."""
    if error.validator != "type":
        return False
    wanted = error.validator_value
    wanted = wanted if isinstance(wanted, list) else [wanted]
    return "object" in wanted or "array" in wanted


def _unknown_variant_keys(doc: Document, path: DocPath, root: Any) -> list[ConfigIssue]:
    """Unknown keys of an object whose variant a key picks (a provider's or a store's
    ``type``). With that key missing or wrong no variant applies, so the schema alone names
    only the missing key, never the misspelt one beside it (``typee: echo``): check the keys
    against every variant's."""
    value: Any = doc.data
    schema: Any = root
    for part in path:
        value, schema = _child(value, part), _child_schema(schema, part)
        if value is None or schema is None:
            return []
    allowed = _variant_keys(schema) if isinstance(value, dict) else None
    return [] if allowed is None else _unknown_keys(doc, path, value, allowed)


def _unknown_keys(
    doc: Document, path: DocPath, value: dict[str, Any], allowed: list[str]
) -> list[ConfigIssue]:
    """An issue at each key of ``value`` not in ``allowed``, with a did-you-mean."""
    return [
        doc.issue(
            (*path, key),
            f"unknown key {key!r}",
            hint=did_you_mean(key, allowed, "allowed keys"),
            key=True,
            code="unknown-key",
        )
        for key in value
        if key not in allowed
    ]


def _child(value: Any, part: str | int) -> Any:
    if isinstance(value, dict) and isinstance(part, str):
        return value.get(part)
    if isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
        return value[part]
    return None


def _child_schema(schema: dict[str, Any], part: str | int) -> dict[str, Any] | None:
    """The (inlined) schema of ``part`` of an object or list ``schema`` describes."""
    if isinstance(part, int):
        items = schema.get("items")
        return items if isinstance(items, dict) else None
    found = schema.get("properties", {}).get(part, schema.get("additionalProperties"))
    return found if isinstance(found, dict) else None


def _variant_keys(schema: dict[str, Any]) -> list[str] | None:
    """Every key some variant allows, when ``schema`` picks among closed variants with
    if/then; ``None`` for any other schema (a closed object reports its unknown keys itself)."""
    if schema.get("additionalProperties") is False:
        return None
    variants = [branch["then"] for branch in schema.get("allOf", []) if "then" in branch]
    if not variants or any(v.get("additionalProperties") is not False for v in variants):
        return None
    keys = set(schema.get("properties", {}))
    for variant in variants:
        keys.update(variant.get("properties", {}))
    return sorted(keys)


def _most_specific(error: SchemaError) -> SchemaError:
    """For anyOf/oneOf, the alternative that got furthest (not a plain type mismatch)."""
    while error.context:
        candidates = [e for e in error.context if e.validator != "type"] or list(error.context)
        error = max(candidates, key=lambda e: len(e.absolute_path))
    return error


def _issues_for(
    doc: Document, error: SchemaError, path: DocPath, schema_name: SchemaName
) -> list[ConfigIssue]:
    kind, value, schema = error.validator, error.instance, error.schema
    shown = show(doc, path, value)
    if kind == "additionalProperties" and isinstance(value, dict):
        return _unknown_keys(doc, path, value, sorted(schema.get("properties", {})))
    if kind == "required" and isinstance(value, dict):
        missing = [key for key in error.validator_value if key not in value]
        return [
            doc.issue(
                path, f"missing required key {key!r}", hint=_describe(schema, key, schema_name)
            )
            for key in missing
        ]
    if error.in_property_names:
        return [
            doc.issue(
                (*path, str(value)),
                f"{value!r} is not a valid name",
                hint=error.schema.get("description"),
                key=True,
            )
        ]
    message, hint = _message(kind, error.validator_value, value, shown, schema)
    return [doc.issue(path, message, hint=hint, code="schema")]


def _message(
    kind: str, expected: Any, value: Any, shown: str, schema: dict
) -> tuple[str, str | None]:
    if kind == "enum":
        hint = did_you_mean(str(value), [str(v) for v in expected], "allowed")
        return f"{shown} is not one of the allowed values", hint
    if kind == "const":
        return f"must be {expected!r}, got {shown}", None
    if kind == "type" and isinstance(value, float) and not math.isfinite(value):
        return f"{shown} is not a finite number (JSON has no NaN or infinity)", None
    if kind == "type":
        types = expected if isinstance(expected, list) else [expected]
        wanted = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in types)
        return f"expected {wanted}, got {_json_type(value)} {shown}".rstrip(), None
    if kind == "pattern":
        return f"{shown} is not valid here", schema.get("description")
    bounds = {
        "minimum": "at least",
        "maximum": "at most",
        "exclusiveMinimum": "greater than",
        "exclusiveMaximum": "less than",
    }
    if kind in bounds:
        return f"{shown} is out of range: must be {bounds[kind]} {expected}", None
    if kind == "minLength":
        return "must not be empty", schema.get("description")
    if kind == "maxItems":
        return f"at most {expected} items allowed", None
    if kind == "minItems":
        return f"at least {expected} item{'s' * (expected != 1)} needed", None
    if kind == "minProperties":
        return "must not be empty", schema.get("description")
    return f"{shown} is invalid ({kind})", schema.get("description")


def show(doc: Document, path: DocPath, value: Any) -> str:
    """How messages show a value: as written if it came from ``${VAR}``; secrets hidden."""
    if path and path[-1] in SECRET_KEYS:
        return "(hidden)"
    env = doc.env.get(path)
    if env is not None:
        return repr(env.raw)
    if isinstance(value, (dict, list)):
        return ""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    names = {dict: "a mapping", list: "a list", str: "the string", int: "the number"}
    return names.get(
        type(value), "the number" if isinstance(value, float) else type(value).__name__
    )


def _describe(schema: dict, key: str, schema_name: SchemaName) -> str | None:
    """The description of property ``key`` (looked up across ``$defs`` for a bare
    ``required`` in an if/then branch)."""
    defs = load_schema(schema_name)["$defs"]
    prop = schema.get("properties", {}).get(key)
    if prop is None:
        owners = [d for d in defs.values() if key in d.get("properties", {})]
        prop = owners[0]["properties"][key] if owners else {}
    if "$ref" in prop and "description" not in prop:
        prop = defs[prop["$ref"].rsplit("/", 1)[-1]]
    return prop.get("description")


__all__ = ["SECRET_KEYS", "SchemaError", "schema_issues", "show"]
