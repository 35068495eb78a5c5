"""Python functions as tools: the schema comes from the signature and type hints (a pydantic
model built with ``create_model``), the descriptions from the docstring and from
``Annotated[..., Field(description=...)]``.

Arguments are checked against that model before the call, so a bad argument is an error result
the model reads, not an exception inside the function. Async functions run on the event loop,
sync ones in the tool's own worker threads (:mod:`.threads`: a timed-out sync function cannot
be stopped; its thread finishes on its own, its result is ignored, and meanwhile it is counted
as stuck).
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .base import DEFAULT_THREADS, DEFAULT_TIMEOUT, ToolCallError, ToolDefinitionError, ToolSpec
from .schema import strict_schema
from .signature import read_signature


class FunctionTool:
    """A tool source with one tool: a Python function.

    ``bind``: keyword arguments given to every call and hidden from the model (a base URL, a
    client). ``max_result_chars``: this tool's cap on a result (default: the agent's).
    ``threads``: how many calls of a sync function may run at once, each in a thread (one
    set of threads per name and function in a process: tools built again by a reload, or
    for several agents, share it).
    """

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        bind: Mapping[str, Any] | None = None,
        max_result_chars: int | None = None,
        threads: int = DEFAULT_THREADS,
    ) -> None:
        from pydantic import ConfigDict, Field, create_model
        from pydantic.fields import FieldInfo

        signature = read_signature(func, name=name, bind=bind)
        label = signature.label
        self.func = func
        self.bind = dict(bind or {})
        self.is_async = inspect.iscoroutinefunction(func)
        fields: dict[str, Any] = {}
        self.defaulted: set[str] = set()
        for param in signature.parameters:
            hint, doc = param.hint, param.doc
            has_field = typing.get_origin(hint) is typing.Annotated and any(
                isinstance(meta, FieldInfo) for meta in hint.__metadata__
            )
            if param.has_default:
                self.defaulted.add(param.name)
                info = Field(param.default, description=doc) if not has_field else param.default
            else:
                info = Field(..., description=doc) if not has_field else ...
            fields[param.name] = (hint, info)
        try:
            self.model = create_model(
                f"{getattr(func, '__name__', 'tool')}_arguments",
                __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=False),
                **fields,
            )
            raw_schema = self.model.model_json_schema()
        except Exception as exc:
            raise ToolDefinitionError(f"cannot build a JSON Schema for {label}: {exc}") from None
        parameters, problems = strict_schema(raw_schema, self.defaulted)
        if problems:
            raise ToolDefinitionError(
                f"the arguments of {label} do not fit OpenAI's strict mode: " + "; ".join(problems)
            )
        tool_name = signature.name
        self.spec = ToolSpec(
            name=tool_name,
            description=description if description is not None else signature.summary,
            parameters=parameters,
            timeout=float(timeout),
        )
        from .outcomes import check_limit  # not needed to check a tool's signature
        from .threads import threads_for  # nor its asyncio

        try:
            self.max_result_chars = (
                None if max_result_chars is None else check_limit(max_result_chars)
            )
            #: The worker threads of a sync function (``None`` for an async one).
            self.threads = None if self.is_async else threads_for(tool_name, func, threads)
        except ValueError as exc:
            raise ToolDefinitionError(str(exc)) from None

    def __repr__(self) -> str:
        return f"FunctionTool({self.spec.name!r})"

    def list_tools(self) -> Sequence[ToolSpec]:
        return (self.spec,)

    @property
    def stuck_calls(self) -> dict[str, int]:
        """Calls still running past the timeout (``{name: count}``; empty when none)."""
        stuck = self.threads.stuck if self.threads is not None else 0
        return {self.spec.name: stuck} if stuck else {}

    async def call_tool(self, name: str, arguments: Mapping[str, Any]) -> Any:
        """Check ``arguments`` against the schema, then call the function."""
        from pydantic import ValidationError

        if not isinstance(arguments, Mapping):
            raise ToolCallError(f"arguments must be a JSON object, got {type(arguments).__name__}")
        given = {
            k: v for k, v in arguments.items() if not (v is None and k in self.defaulted)
        }  # null means "the default" (strict mode makes every parameter required)
        try:
            checked = self.model.model_validate(given)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            raise ToolCallError(f"invalid arguments for {name}: {problems}") from None
        kwargs = {key: getattr(checked, key) for key in given}
        kwargs.update(self.bind)
        if self.threads is None:
            return await self.func(**kwargs)
        return await self.threads.run(self.func, kwargs, self.spec.timeout)


def import_function(target: str, search_path: Sequence[str] = ()) -> Callable[..., Any]:
    """The function named by ``module:attribute`` (dots allowed in both parts).

    ``search_path`` directories (the config's directory) are tried ahead of ``sys.path``.
    """
    import sys

    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ToolDefinitionError(
            f"function {target!r} must be 'module:attribute', e.g. 'myapp.tools:get_weather'"
        )
    for folder in search_path:
        if folder not in sys.path:
            sys.path.insert(0, folder)
    try:
        value: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise ToolDefinitionError(
            f"module {module_name!r} does not import: {type(exc).__name__}: {exc}"
        ) from None
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            public = sorted(n for n in dir(value) if not n.startswith("_"))[:12]
            raise ToolDefinitionError(
                f"{module_name!r} has no attribute {attribute!r} (it has: {', '.join(public)})"
            ) from None
    if not callable(value):
        raise ToolDefinitionError(f"{target!r} is a {type(value).__name__}, not a function")
    return typing.cast(Callable[..., Any], value)
