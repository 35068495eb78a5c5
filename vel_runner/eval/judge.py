"""``judge:`` expectations: a rubric in words, graded by an agent of the config.

The judge agent gets one message: the rubric, the conversation of the run so far (user
messages, tool calls and answers; the last answer is the one graded) and the verdict format.
It must answer a JSON object ``{"pass": true|false, "reason": "..."}`` (in a code fence or
after some words is fine: the first JSON object of the answer counts); a first line that
starts with ``PASS`` or ``FAIL`` is accepted too, the rest being the reason. Anything else is
a failure that quotes the answer. The judge runs without a session: every grading stands
alone. Its model calls go through the cassettes like the agent's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .results import Answer, Failure

VERDICT_FORMAT = (
    'Answer with one JSON object and nothing else: {"pass": true or false, '
    '"reason": "one sentence"}.'
)
#: ``PASS``/``FAIL`` first (markdown emphasis or a heading mark around it allowed).
_LINE_VERDICT = re.compile(r"^[\s*_#>`]*(PASS|FAIL)\b[\s:.\-–—*_`]*(.*)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    reason: str


def transcript(exchanges: Sequence[tuple[str, Answer]]) -> str:
    """The run so far as the judge reads it: ``user:``, tool calls and ``assistant:`` lines."""
    lines: list[str] = []
    for user, answer in exchanges:
        lines.append(f"user: {user}")
        lines.extend(f"assistant called tool {call}" for call in answer.calls)
        lines.append(f"assistant: {answer.text}")
    return "\n".join(lines)


def prompt(rubric: str, exchanges: Sequence[tuple[str, Answer]]) -> str:
    """The one message the judge agent receives."""
    return (
        "You grade the last answer of an AI assistant in the conversation below against a "
        "rubric.\n\n"
        f"Rubric:\n{rubric}\n\n"
        f"Conversation:\n{transcript(exchanges)}\n\n"
        f"{VERDICT_FORMAT}"
    )


def parse_verdict(text: str) -> Verdict | None:
    """The verdict in the judge's answer (``None``: there is none)."""
    decoder = json.JSONDecoder()
    for index, char in enumerate(text):
        if char != "{":
            continue
        try:
            value: Any = decoder.raw_decode(text, index)[0]
        except ValueError:
            continue
        if isinstance(value, dict) and isinstance(value.get("pass"), bool):
            return Verdict(value["pass"], str(value.get("reason", "")).strip())
    match = _LINE_VERDICT.match(text.lstrip())
    if match is None:
        return None
    return Verdict(match.group(1).upper() == "PASS", match.group(2).strip())


def judged(agent_id: str, rubric: str, reply: str) -> Failure | None:
    """The judge's reply as a failure (``None``: it passed)."""
    verdict = parse_verdict(reply)
    if verdict is None:
        quoted = reply if len(reply) <= 200 else reply[:197] + "..."
        return Failure(
            "judge",
            f"the judge {agent_id!r} did not answer a verdict (JSON with a boolean 'pass', or "
            f"a first line PASS or FAIL): {quoted!r}",
        )
    if verdict.passed:
        return None
    reason = f": {verdict.reason}" if verdict.reason else ""
    return Failure("judge", f"the judge {agent_id!r} failed the rubric {rubric!r}{reason}")


__all__ = ["VERDICT_FORMAT", "Verdict", "judged", "parse_verdict", "prompt", "transcript"]
