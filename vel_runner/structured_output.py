"""Structured output: an agent whose answer is JSON that follows a schema.

The policy, free of any transport: what the model is asked for (a ``response_format`` of type
``json_schema`` with ``strict: true``, so OpenAI-compatible servers that enforce it always
answer in shape), how an answer is parsed and checked (JSON, then the JSON Schema with
``jsonschema-rs``, or the pydantic model), what goes back to the model when it is not valid
(the validation error, for one repair attempt), and the typed error when the repair fails too
(:class:`~vel_runner.errors.InvalidOutputError`: ``invalid_output``, and nothing is stored).

A schema is given as a JSON Schema dict (checked as it is: :func:`strict_problems` names what
strict mode would refuse, nothing is rewritten) or as a pydantic model class (its schema made
strict, like a tool's parameters; the answer is then validated by the model itself and
:attr:`ParsedOutput.typed` is an instance of it).
"""

from __future__ import annotations

import itertools
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
    """A valid answer: ``value`` as JSON (what the HTTP routes send as ``object``),
    ``typed`` (the pydantic model instance for a ``type``, else the same JSON) and ``text``,
    the JSON text itself (what is stored and sent as the answer; a fence around it dropped)."""

    value: Any
    typed: Any
    text: str = ""


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
        import jsonschema_rs

        if not isinstance(schema, Mapping):
            raise OutputDefinitionError(
                f"output must be a JSON Schema dict or a pydantic model class, got "
                f"{type(schema).__name__}"
            )
        try:
            jsonschema_rs.meta.validate(dict(schema))
        except jsonschema_rs.ValidationError as exc:
            where = "/".join(map(str, exc.instance_path)) or "the schema"
            raise OutputDefinitionError(
                f"output schema is not a valid JSON Schema: {where}: {exc.message}"
            ) from None
        problems = strict_problems(schema)
        if problems:
            raise OutputDefinitionError(
                "output schema does not fit OpenAI's strict mode: " + "; ".join(problems)
            )
        checked = dict(schema)
        validator = jsonschema_rs.Draft202012Validator(checked)
        return cls(checked, _name(name), description, None, validator)

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
        body = _body(text)
        value = _json(body)
        if self.model is not None:
            from pydantic import ValidationError

            try:
                typed = self.model.model_validate(value)  # type: ignore[attr-defined]
            except ValidationError as exc:
                raise OutputMismatch(_pydantic_problems(exc)) from None
            return ParsedOutput(value, typed, body)
        error = _best_error(self._validator, value)
        if error is not None:
            raise OutputMismatch(error)
        return ParsedOutput(value, value, body)

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
            f"the model's answer does not follow the output schema ({self.name}), even after "
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


def _body(text: str) -> str:
    """The JSON text of an answer: stripped, and out of a ``` fence if it is in one."""
    body = text.strip()
    fenced = _FENCE.match(body)
    return fenced.group(1).strip() if fenced else body


def _json(body: str) -> Any:
    if not body:
        raise OutputMismatch("the answer is empty, not JSON")
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except ValueError as exc:
        raise OutputMismatch(f"the answer is not JSON ({exc})") from None


#: Validation errors named in one message.
ERRORS_SHOWN = 3


def _best_error(validator: Any, value: Any) -> str | None:
    errors = list(itertools.islice(validator.iter_errors(value), ERRORS_SHOWN))
    if not errors:
        return None
    return "; ".join(
        f"at {'/'.join(map(str, e.instance_path))}: {e.message}" if e.instance_path else e.message
        for e in errors
    )


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
