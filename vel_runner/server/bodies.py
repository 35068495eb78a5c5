"""Request bodies and the limits they enforce, declared once so that the OpenAPI document
(and schemathesis) knows them and bad input is refused with 422 before any work starts."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from ..messages import MAX_SESSION_ID_LENGTH

#: The longest user message one HTTP turn accepts (the body limit applies as well).
MAX_HTTP_MESSAGE_CHARS = 100_000
#: Session ids travel in URL paths and headers, so the API accepts a URL-safe set.
SESSION_ID_PATTERN = r"^[A-Za-z0-9_.:@+=~-]+$"
SESSION_ID_RULE = f"1-{MAX_SESSION_ID_LENGTH} characters from A-Z a-z 0-9 and _ . : @ + = ~ -"

SessionId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_SESSION_ID_LENGTH,
        pattern=SESSION_ID_PATTERN,
        description=SESSION_ID_RULE,
    ),
]
Message = Annotated[str, Field(min_length=1, max_length=MAX_HTTP_MESSAGE_CHARS)]


def not_boolean(value: object) -> object:
    """JSON ``true``/``false`` are not numbers, though pydantic's lax mode reads them as 1/0
    (``older_than: true`` would mean one second, ``false`` every session)."""
    if isinstance(value, bool):
        raise PydanticCustomError("number_type", "got a boolean, which is not a number")
    return value


#: A duration in the API: ``"30s"``, ``"15m"``, ``"1h"``, ``"7d"`` or a number of seconds.
Duration = Annotated[
    str | float,
    BeforeValidator(not_boolean),
    Field(description="a duration: 30s, 15m, 1h, 7d or seconds"),
]


class RunRequest(BaseModel):
    """``POST /v1/agents/{agent_id}/runs``."""

    model_config = ConfigDict(extra="forbid")

    message: Message
    session_id: SessionId | None = None
    stream: bool = False


class SetContextRequest(BaseModel):
    """``PUT /v1/agents/{agent_id}/sessions/{session_id}``: the session's new messages."""

    model_config = ConfigDict(extra="forbid")

    messages: list[dict[str, Any]] = Field(max_length=100_000)


class CleanupRequest(BaseModel):
    """``POST /v1/sessions/cleanup``."""

    model_config = ConfigDict(extra="forbid")

    older_than: Duration
    agent_id: str | None = None
    dry_run: bool = False
