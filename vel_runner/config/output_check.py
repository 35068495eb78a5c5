"""The checks of an agent's ``output:`` (structured output), for ``vel-runner validate`` and
every (re)load: exactly one of ``schema`` and ``type``; a schema that is valid JSON Schema and
that OpenAI's strict mode can serve as it is (the same checks as tool schemas); a
``{$ref: file}`` read relative to the config file, reported at the ``$ref`` line when the file
is missing or is not a schema; a ``type`` that imports and is a pydantic model.

The specs built here are kept on the config (``Config.outputs``), so building the runtime
neither reads the file nor imports the model a second time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigIssue, DocPath
from .model import Config, Origin

#: What a schema ``$ref`` that names a file (not a ``#/...`` pointer) may end with.
FILE_SUFFIXES = (".json", ".yaml", ".yml")
STRICT_HINT = (
    "close every object (additionalProperties: false) and list every property in required; "
    'an optional one is nullable: type: [string, "null"]'
)

SCHEMA_HINT = "write JSON Schema (draft 2020-12): type, properties, required, items, enum..."


def output_issues(config: Config) -> list[ConfigIssue]:
    """Every problem with the agents' ``output`` declarations; valid ones land in
    ``config.outputs``."""
    issues: list[ConfigIssue] = []
    for agent_id, agent in config.agents.items():
        decl = agent.get("output")
        if decl is None:
            continue
        origin = config.origin("agents", agent_id)
        found = _output_spec(decl, origin)
        if isinstance(found, ConfigIssue):
            issues.append(found)
        else:
            config.outputs[agent_id] = found
    return issues


def _output_spec(decl: Mapping[str, Any], origin: Origin) -> Any:
    """The agent's :class:`~vel_runner.structured_output.OutputSpec`, or the issue."""
    from ..structured_output import OutputDefinitionError, OutputSpec

    if ("schema" in decl) == ("type" in decl):
        return origin.issue(
            ("output",),
            "output needs exactly one of schema (a JSON Schema) and type (a pydantic model)",
            hint="schema: {type: object, properties: {...}, required: [...], "
            "additionalProperties: false}, or type: myapp.models:Ticket",
            key=True,
            code="schema",
        )
    options = {"name": decl.get("name"), "description": decl.get("description")}
    if "type" in decl:
        return _typed_spec(decl["type"], options, origin)
    schema = decl["schema"]
    where: DocPath = ("output", "schema")
    ref = schema.get("$ref")
    if isinstance(ref, str) and not ref.startswith("#"):
        where = (*where, "$ref")
        loaded = _schema_file(ref, origin)
        if isinstance(loaded, ConfigIssue):
            return loaded
        schema = loaded
    try:
        return OutputSpec.from_schema(schema, **options)
    except OutputDefinitionError as exc:
        message = f"{ref}: {exc}" if where[-1] == "$ref" else str(exc)
        hint = STRICT_HINT if "strict mode" in message else SCHEMA_HINT
        return origin.issue(where, message, hint=hint, code="schema")


def _typed_spec(target: str, options: Mapping[str, Any], origin: Origin) -> Any:
    from ..structured_output import OutputDefinitionError, OutputSpec
    from ..tools.base import ToolDefinitionError
    from ..tools.python import import_attribute

    folder = str(Path(origin.file).resolve().parent)
    try:
        model = import_attribute(target, [folder])
        return OutputSpec.from_model(model, **options)
    except ToolDefinitionError as exc:
        return origin.issue(
            ("output", "type"),
            f"output type {target!r}: {exc}",
            hint=f"type is module:Model, looked up in {folder} and on sys.path",
            code="output",
        )
    except OutputDefinitionError as exc:
        hint = "a pydantic BaseModel with named, typed fields"
        return origin.issue(("output", "type"), str(exc), hint=hint, code="output")


def _schema_file(ref: str, origin: Origin) -> Any:
    """The schema in the file ``ref`` names (relative to the config file), or the issue."""
    import yaml

    where: DocPath = ("output", "schema", "$ref")
    path = Path(origin.file).resolve().parent / ref
    if "#" in ref or path.suffix not in FILE_SUFFIXES:
        return origin.issue(
            where,
            f"$ref {ref!r} must name a .json or .yaml file holding the whole schema",
            hint="e.g. $ref: schemas/ticket.json (no #fragment)",
            code="output",
        )
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return origin.issue(
            where, f"cannot read output schema file {str(path)!r}: {reason}", code="output"
        )
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        return origin.issue(
            where, f"output schema file {str(path)!r} is not valid: {exc}", code="output"
        )
    if not isinstance(data, dict):
        return origin.issue(
            where,
            f"output schema file {str(path)!r} holds {type(data).__name__}, not a JSON Schema "
            "object",
            code="output",
        )
    return data


__all__ = ["output_issues"]
