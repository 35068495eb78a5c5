"""A turn's part in structured output (:mod:`vel_runner.structured_output` has the policy).

The answer step of an agent with an ``output`` schema is checked before it counts: a valid
answer is kept as its JSON text (and parsed object); an invalid one gets one repair attempt,
the model called again with its answer and the validation error (tools not offered); a second
invalid answer fails the turn with :class:`~vel_runner.errors.InvalidOutputError`, and the
turn stores nothing. A streamed turn sends the answer's text once it is valid, as one delta,
so no client ever shows an invalid attempt and the streamed text equals the stored answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .messages import Message
from .observe.hooks import AnyStep
from .providers.base import Completion, Provider
from .structured_output import OutputMismatch, OutputSpec, ParsedOutput
from .turn_steps import complete


async def checked_answer(
    spec: OutputSpec,
    provider: Provider,
    model: str,
    messages: Sequence[Message],
    text: str,
    settings: Mapping[str, Any],
    step: AnyStep,
) -> tuple[ParsedOutput, Completion | None]:
    """The valid answer, and the repair reply when one was needed (its usage counts)."""
    try:
        return spec.parse(text), None
    except OutputMismatch as problem:
        attempt = [*messages, {"role": "assistant", "content": text}, spec.repair_message(problem)]
    reply = await complete(provider, model, attempt, settings, step)
    try:
        return spec.parse(reply.text), reply
    except OutputMismatch as again:
        raise spec.failure(again) from None


__all__ = ["checked_answer"]
