"""A Python function read as a tool, without pydantic: its parameters, their type hints and
docstring descriptions, the tool's name, and every definition error that needs no schema (no
type hint, ``*args``, positional-only, ``bind`` naming a non-parameter, a bad name).

:class:`~vel_runner.tools.python.FunctionTool` builds its pydantic model from this.
``vel-runner validate`` stops here when every hint is :func:`plain` (its JSON Schema always
fits OpenAI's strict mode), so checking the shipped config never imports pydantic.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .base import ToolDefinitionError
from .schema import parse_docstring

#: Types whose JSON Schema is a plain ``type`` that strict mode accepts.
_SCALARS = (str, int, float, bool, type(None))
#: Parameter names pydantic may refuse as field names (private, or its own ``model_*``).
PYDANTIC_RESERVED = ("_", "model_")


@dataclass(frozen=True, slots=True)
class ToolParameter:
    """One argument the model sends (a bound parameter is not one)."""

    name: str
    hint: Any
    doc: str | None
    default: Any = inspect.Parameter.empty

    @property
    def has_default(self) -> bool:
        return self.default is not inspect.Parameter.empty


@dataclass(frozen=True, slots=True)
class ToolSignature:
    """What a function offers as a tool, read from its signature and docstring."""

    name: str
    label: str
    summary: str
    parameters: tuple[ToolParameter, ...]

    def is_plain(self) -> bool:
        """Whether every parameter's hint is :func:`plain` and its name one pydantic takes
        as a field (not ``_x``, not ``model_dump``: pydantic refuses those)."""
        return all(
            plain(parameter.hint) and not parameter.name.startswith(PYDANTIC_RESERVED)
            for parameter in self.parameters
        )


def read_signature(
    func: Callable[..., Any], *, name: str | None = None, bind: Mapping[str, Any] | None = None
) -> ToolSignature:
    """``func`` as a tool named ``name`` (default: the function's name); ``bind`` names the
    parameters the caller fills in. Raises :class:`ToolDefinitionError` for what no schema is
    needed to see."""
    if not callable(func):
        raise ToolDefinitionError(f"a tool must be a function, got {type(func).__name__}")
    label = getattr(func, "__qualname__", repr(func))
    try:
        signature = inspect.signature(func)
        hints = typing.get_type_hints(func, include_extras=True)
    except (TypeError, ValueError, NameError) as exc:
        raise ToolDefinitionError(f"cannot read the signature of {label}: {exc}") from None
    summary, param_docs = parse_docstring(inspect.getdoc(func))
    bound = set(bind or ())
    unknown = bound - set(signature.parameters)
    if unknown:
        raise ToolDefinitionError(
            f"bind names {sorted(unknown)} that are not parameters of {label}; "
            f"its parameters: {list(signature.parameters)}",
            part="bind",
        )
    parameters = []
    for param in signature.parameters.values():
        if param.name in bound:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise ToolDefinitionError(
                f"{label} takes *{param.name}: a tool needs named parameters with type hints"
            )
        if param.kind is param.POSITIONAL_ONLY:
            raise ToolDefinitionError(f"parameter {param.name!r} of {label} is positional-only")
        if param.name not in hints:
            raise ToolDefinitionError(
                f"parameter {param.name!r} of {label} has no type hint (the model needs "
                "one to know what to send), e.g. def f(city: str)"
            )
        parameters.append(
            ToolParameter(param.name, hints[param.name], param_docs.get(param.name), param.default)
        )
    tool_name = str(name or getattr(func, "__name__", ""))
    if not tool_name.isidentifier():
        raise ToolDefinitionError(f"tool name {tool_name!r} must be an identifier")
    return ToolSignature(tool_name, label, summary, tuple(parameters))


def plain(hint: Any) -> bool:
    """Whether ``hint`` is built only from ``str``, ``int``, ``float``, ``bool``, ``None``,
    ``Literal`` of those, ``X | Y`` / ``Optional`` and ``list[...]``: pydantic always gives
    these a JSON Schema strict mode accepts (``tests/engine/test_tools.py`` checks every shape), so
    a check may skip building it. Anything else (models, dicts, ``Annotated``, enums) is not
    plain and needs the full build."""
    if hint in _SCALARS:
        return True
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Literal:
        return all(type(arg) in _SCALARS for arg in args)
    if origin is list:
        return len(args) == 1 and plain(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return all(plain(arg) for arg in args)
    return False


__all__ = ["PYDANTIC_RESERVED", "ToolParameter", "ToolSignature", "plain", "read_signature"]
