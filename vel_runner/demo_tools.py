"""Small tools shipped with vel-runner, so the shipped ``agents.yaml`` shows tools offline.

``send_email`` sends nothing: it is there to show a call that waits for a person's approval.

``calculate`` evaluates arithmetic safely (it walks the expression's syntax tree and allows
only numbers and arithmetic operators: no names, calls or attributes, so no code runs).
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
MAX_EXPONENT = 1000


def calculate(expression: str) -> float | int:
    """Evaluate an arithmetic expression exactly as written.

    Args:
        expression: Numbers with + - * / // % ** and parentheses, e.g. "(2 + 3) * 4".
    """
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an arithmetic expression: {expression!r} ({exc.msg})") from None
    return _evaluate(tree.body)


def _evaluate(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise ValueError(f"exponent {right} is too large (limit {MAX_EXPONENT})")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    raise ValueError(
        f"only numbers and arithmetic operators are allowed, not {ast.unparse(node)!r}"
    )


def current_time(timezone: str = "UTC") -> str:
    """The current date and time, ISO 8601.

    Args:
        timezone: An IANA time zone name, e.g. Europe/Paris.
    """
    try:
        zone = ZoneInfo(timezone) if timezone != "UTC" else UTC
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}") from None
    return datetime.now(zone).isoformat(timespec="seconds")


def send_email(to: str, subject: str, body: str) -> str:
    """Send an email (a demo: nothing leaves the machine; the call needs a person's approval).

    Args:
        to: The recipient's address.
        subject: The subject line.
        body: The text of the email.
    """
    return f"sent to {to}: {subject!r} ({len(body)} characters; demo, nothing was sent)"
