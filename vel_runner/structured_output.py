"""Structured output: an agent whose answer is JSON that follows a schema.

The policy, free of any transport: what the model is asked for (a ``response_format`` of type
``json_schema`` with ``strict: true``, so OpenAI-compatible servers that enforce it always
answer in shape), how an answer is parsed and checked (JSON, then the JSON Schema with
``jsonschema``, or the pydantic model), what goes back to the model when it is not valid (the
validation error, for one repair attempt), and the typed error when the repair fails too
(:class:`~vel_runner.errors.InvalidOutputError`: ``invalid_output``, and nothing is stored).

A schema is given as a JSON Schema dict (checked as it is: :func:`strict_problems` names what
strict mode would refuse, nothing is rewritten) or as a pydantic model class (its schema made
strict, like a tool's parameters; the answer is then validated by the model itself and
:attr:`ParsedOutput.typed` is an instance of it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidInputError, InvalidOutputError
from .messages import Message
from .tools.schema import strict_problems, strict_schema

#: The ``response_format.json_schema.name`` rule (OpenAI's): letters, digits, ``_``, ``-``.
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
DEFAULT_NAME = "output"
#: A fenced answer (```json ... ```), from servers that ignore ``response_format``.
_FENCE = re.compile(r"^```[A-Za-z]*\s*\n(.*)\n\s*```$", re.DOTALL)


class OutputDefinitionError(InvalidInputError):
    """An output schema strict mode cannot serve, or a type that is not a pydantic model."""


class OutputMismatch(Exception):
    """An answer that is not JSON or does not follow the schema; ``str()`` says where."""


@dataclass(frozen=True, slots=True)
class ParsedOutput:
    """A valid answer: ``value`` as JSON (what the HTTP routes send as ``object``) and
    ``typed`` (the pydantic model instance for a ``type``, else the same JSON)."""

    value: Any
    typed: Any


@dataclass(frozen=True, slots=True)
class OutputSpec:
    """The shape an agent's answers must have (``Agent(output=...)``, ``output:`` in YAML)."""

    schema: Mapping[str, Any]
    name: str = DEFAULT_NAME
    description: str | None = None
    #: The pydantic model the answer is validated into (``None``: a JSON Schema).
    model: type | None = None
    _validator: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def from_schema(
        cls, schema: Mapping[str, Any], *, name: str | None = None, description: str | None = None
    ) -> OutputSpec:
        """A hand-written JSON Schema, refused (naming each problem) unless strict mode can
        serve it as it is."""
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        if not isinstance(schema, Mapping):
            raise OutputDefinitionError(
                f"output must be a JSON Schema dict or a pydantic model class, got "
                f"{type(schema).__name__}"
            )
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            where = "/".join(map(str, exc.absolute_path)) or "the schema"
            raise OutputDefinitionError(
                f"output schema is not a valid JSON Schema: {where}: {exc.message}"
            ) from None
        problems = strict_problems(schema)
        if problems:
            raise OutputDefinitionError(
                "output schema does not fit OpenAI's strict mode: " + "; ".join(problems)
            )
        checked = dict(schema)
        return cls(checked, _name(name), description, None, Draft202012Validator(checked))

    @classmethod
    def from_model(
        cls, model: type, *, name: str | None = None, description: str | None = None
    ) -> OutputSpec:
        """A pydantic model: its JSON Schema made strict (every field required, objects
        closed), refused when strict mode cannot express it (a free-form ``dict``...)."""
        from pydantic import BaseModel

        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise OutputDefinitionError(
                f"output type must be a pydantic BaseModel subclass, got {model!r:.80}"
            )
        schema, problems = strict_schema(model.model_json_schema(), set())
        if problems:
            raise OutputDefinitionError(
                f"output type {model.__name__} does not fit OpenAI's strict mode: "
                + "; ".join(problems)
            )
        if description is None and model.__doc__:
            description = " ".join(model.__doc__.split()) or None
        return cls(schema, _name(name or model.__name__), description, model)

    def response_format(self) -> dict[str, Any]:
        """The chat completions ``response_format`` that asks for this shape."""
        spec: dict[str, Any] = {"name": self.name, "schema": dict(self.schema), "strict": True}
        if self.description:
            spec["description"] = self.description
        return {"type": "json_schema", "json_schema": spec}

    def parse(self, text: str) -> ParsedOutput:
        """The answer ``text`` as a valid object, or :class:`OutputMismatch` saying why not."""
        value = _json(text)
        if self.model is not None:
            from pydantic import ValidationError

            try:
                typed = self.model.model_validate(value)  # type: ignore[attr-defined]
            except ValidationError as exc:
                raise OutputMismatch(_pydantic_problems(exc)) from None
            return ParsedOutput(value, typed)
        error = _best_error(self._validator, value)
        if error is not None:
            raise OutputMismatch(error)
        return ParsedOutput(value, value)

    def repair_message(self, problem: OutputMismatch) -> Message:
        """What the model is told after an invalid answer (it gets one more try)."""
        return {
            "role": "user",
            "content": (
                f"Your answer is not valid: {problem}. Reply again with only the JSON that "
                f"follows the {self.name} schema."
            ),
        }

    def failure(self, problem: OutputMismatch) -> InvalidOutputError:
        """The error of a turn whose answer stayed invalid after the repair attempt."""
        return InvalidOutputError(
            f"the model's answer does not follow the {self.name} output schema, even after "
            f"one repair attempt: {problem}; nothing was stored"
        )


def as_output_spec(output: Any) -> OutputSpec | None:
    """``Agent(output=...)``: ``None``, an :class:`OutputSpec`, a JSON Schema dict or a
    pydantic model class."""
    if output is None or isinstance(output, OutputSpec):
        return output
    if isinstance(output, type):
        return OutputSpec.from_model(output)
    return OutputSpec.from_schema(output)


def _name(name: str | None) -> str:
    if name is None:
        return DEFAULT_NAME
    if not NAME.fullmatch(name):
        raise OutputDefinitionError(
            f"output name {name!r} must be 1-64 letters, digits, '_' or '-' (OpenAI's rule)"
        )
    return name


def _refuse_constant(text: str) -> Any:
    raise OutputMismatch(f"{text} is not a JSON number")


def _json(text: str) -> Any:
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body:
        raise OutputMismatch("the answer is empty, not JSON")
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise OutputMismatch(f"the answer is not JSON ({exc})") from None


def _best_error(validator: Any, value: Any) -> str | None:
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(value))
    if error is None:
        return None
    where = "/".join(map(str, error.absolute_path))
    return f"at {where}: {error.message}" if where else error.message


def _pydantic_problems(exc: Any) -> str:
    return "; ".join(
        f"at {'/'.join(map(str, e['loc']))}: {e['msg']}" if e["loc"] else e["msg"]
        for e in exc.errors()[:5]
    )


__all__ = [
    "OutputDefinitionError",
    "OutputMismatch",
    "OutputSpec",
    "ParsedOutput",
    "as_output_spec",
]
