"""A function read as a tool without pydantic (``vel_runner.tools.signature``): the claim that
lets ``vel-runner validate`` skip building plain tools is that every plain hint builds a
strict-mode schema. Checked here against the real build, shape by shape."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Literal, Optional, Union

import pytest
from pydantic import BaseModel, Field

from vel_runner.tools import FunctionTool, ToolDefinitionError
from vel_runner.tools.signature import plain, read_signature


class Colour(enum.Enum):
    RED = "red"


class Point(BaseModel):
    x: int


PLAIN: list[Any] = [
    str, int, float, bool, type(None),
    Literal["a", "b"], Literal[1, 2], Literal[True],
    list[str], list[list[int]], list[Literal["x"]],
    Optional[str], str | None, int | str, Union[float, None], list[str] | None,  # noqa: UP007, UP045
    list[int | None],
]  # fmt: skip
NOT_PLAIN: list[Any] = [
    dict, dict[str, int], Any, tuple[int, int], set[str], list, bytes, Colour, Point,
    Annotated[int, Field(description="n")], list[dict[str, int]], int | dict[str, int],
    Literal[Colour.RED],
]  # fmt: skip


def tool_with(hint: Any, *, default: bool) -> Any:
    def tool(value: Any = None) -> str:
        return "ok"

    tool.__annotations__ = {"value": hint, "return": str}
    if not default:
        tool.__defaults__ = None
    return tool


@pytest.mark.parametrize("hint", PLAIN, ids=repr)
@pytest.mark.parametrize("default", [False, True])
def test_every_plain_hint_builds_a_strict_schema(hint: Any, default: bool) -> None:
    assert plain(hint)
    built = FunctionTool(tool_with(hint, default=default))  # raises if strict mode refused it
    assert built.spec.parameters["additionalProperties"] is False
    assert read_signature(tool_with(hint, default=default)).is_plain()


@pytest.mark.parametrize("hint", NOT_PLAIN, ids=repr)
def test_anything_else_is_left_to_the_full_build(hint: Any) -> None:
    assert not plain(hint)
    assert not read_signature(tool_with(hint, default=False)).is_plain()


def test_signature_errors_need_no_schema() -> None:
    def untyped(city):  # type: ignore[no-untyped-def]
        return city

    def star(*names: str) -> str:
        return ""

    def fine(city: str, secret: str) -> str:
        """Weather.

        Args:
            city: The city.
        """
        return city

    with pytest.raises(ToolDefinitionError, match="has no type hint"):
        read_signature(untyped)
    with pytest.raises(ToolDefinitionError, match="takes \\*names"):
        read_signature(star)
    with pytest.raises(ToolDefinitionError, match="bind names \\['nope'\\]"):
        read_signature(fine, bind={"nope": 1})
    with pytest.raises(ToolDefinitionError, match="must be an identifier"):
        read_signature(fine, name="my-tool")
    signature = read_signature(fine, bind={"secret": "s"})
    assert [p.name for p in signature.parameters] == ["city"]
    assert signature.summary == "Weather." and signature.parameters[0].doc == "The city."


@pytest.mark.parametrize("name", ["_secret", "model_dump", "model_validate"])
def test_names_pydantic_refuses_are_left_to_the_full_build(name: str) -> None:
    """pydantic refuses these field names: the plain check must not vouch for them."""
    namespace: dict[str, Any] = {}
    exec(f"def tool({name}: str) -> str:\n    return 'x'\n", namespace)
    assert not read_signature(namespace["tool"]).is_plain()
    with pytest.raises(ToolDefinitionError, match="cannot build a JSON Schema"):
        FunctionTool(namespace["tool"])
