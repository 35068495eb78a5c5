"""The string, tool-call and object expectations of a turn (``judge`` is :mod:`.judge`).

Each failed expectation is one :class:`Failure` whose message says what was expected and,
where it helps, what came instead; the reporter shows the whole answer beside it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .results import Answer, CallMade, Failure
from .spec import Expect, ExpectedCall

_MISSING = object()


def check(expect: Expect, answer: Answer) -> list[Failure]:
    """Every expectation of ``expect`` (but the judge) that ``answer`` does not meet."""
    text = answer.text
    failures = [
        Failure("contains", f"expected the answer to contain {piece!r}")
        for piece in expect.contains
        if piece not in text
    ]
    failures += [
        Failure("not_contains", f"expected the answer not to contain {piece!r}")
        for piece in expect.not_contains
        if piece in text
    ]
    failures += [
        Failure("matches", f"expected the answer to match /{pattern.pattern}/")
        for pattern in expect.matches
        if pattern.search(text) is None
    ]
    if expect.equals is not None and text.strip() != expect.equals.strip():
        failures.append(Failure("equals", f"expected the answer to be {expect.equals!r}"))
    if expect.tool_calls:
        problem = calls_problem(expect.tool_calls, answer.calls, expect.tool_calls_match)
        if problem:
            failures.append(Failure("tool_calls", problem))
    if expect.no_tool_calls and answer.calls:
        made = ", ".join(call.name for call in answer.calls)
        failures.append(
            Failure("no_tool_calls", f"expected no tool calls; the agent called {made}")
        )
    if expect.has_object:
        problem = object_problem(expect.object, answer)
        if problem:
            failures.append(Failure("object", problem))
    return failures


# -- subset matching ---------------------------------------------------------------------------
def subset_problem(expected: Any, actual: Any, path: str = "") -> str | None:
    """Why ``actual`` does not contain ``expected`` (``None``: it does). Mappings match on the
    keys given (others allowed), lists item by item with the same length, other values by
    equality (``true`` is not ``1``)."""
    here = path or "the value"
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{here} is {_show(actual)}, not a mapping"
        for key, value in expected.items():
            child = f"{path}.{key}" if path else str(key)
            found = actual.get(key, _MISSING)
            if found is _MISSING:
                return f"{child} is missing"
            problem = subset_problem(value, found, child)
            if problem:
                return problem
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return f"{here} is {_show(actual)}, expected {len(expected)} items"
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problem = subset_problem(want, got, f"{path}[{index}]")
            if problem:
                return problem
        return None
    same_kind = isinstance(expected, bool) == isinstance(actual, bool)
    if not same_kind or expected != actual:
        return f"{here} is {_show(actual)}, expected {_show(expected)}"
    return None


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


# -- tool calls --------------------------------------------------------------------------------
def _matches(expected: ExpectedCall, made: CallMade) -> bool:
    if expected.name != made.name:
        return False
    return expected.input is None or subset_problem(dict(expected.input), made.input) is None


def calls_problem(
    expected: Sequence[ExpectedCall], made: Sequence[CallMade], order: str
) -> str | None:
    """Why the calls ``made`` do not satisfy ``expected`` under ``order`` (see the schema's
    ``tool_calls_match``), or ``None``."""
    if order == "exact":
        ok = len(made) == len(expected) and all(map(_matches, expected, made))
    elif order == "in_order":
        position = 0
        for call in made:
            if position < len(expected) and _matches(expected[position], call):
                position += 1
        ok = position == len(expected)
    else:
        ok = _assign(list(expected), list(made))
    if ok:
        return None
    wanted = ", ".join(_describe(call) for call in expected)
    got = ", ".join(str(CallMade(c.name, c.input)) for c in made) or "no tool calls"
    return f"expected tool calls ({order.replace('_', ' ')}): {wanted}; made: {got}"


def _assign(expected: list[ExpectedCall], made: list[CallMade]) -> bool:
    """Whether each expected call can be matched by a different call made (any order)."""
    if not expected:
        return True
    first, rest = expected[0], expected[1:]
    return any(
        _matches(first, call) and _assign(rest, made[:index] + made[index + 1 :])
        for index, call in enumerate(made)
    )


def _describe(call: ExpectedCall) -> str:
    if call.input is None:
        return f"{call.name}(...)"
    return f"{call.name}({json.dumps(call.input, ensure_ascii=False)}, ...)"


# -- structured answers ------------------------------------------------------------------------
def structured(answer: Answer) -> tuple[bool, Any]:
    """The answer's structured object: ``TurnResult.object`` when the agent returns one,
    else the first JSON object or array in its text. ``(False, None)``: there is none."""
    if answer.has_object:
        return True, answer.object
    decoder = json.JSONDecoder()
    text = answer.text
    for index, char in enumerate(text):
        if char in "{[":
            try:
                value, _ = decoder.raw_decode(text, index)
            except ValueError:
                continue
            return True, value
    return False, None


def object_problem(expected: Any, answer: Answer) -> str | None:
    found, value = structured(answer)
    if not found:
        return "expected a structured answer (a JSON object or array); the answer has none"
    problem = subset_problem(expected, value)
    return None if problem is None else f"the structured answer does not match: {problem}"


__all__ = ["calls_problem", "check", "object_problem", "structured", "subset_problem"]
