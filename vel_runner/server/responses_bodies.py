"""The request bodies of the Responses and Conversations routes, as pydantic models.

Declared, not hand-parsed, so the OpenAPI document describes them (clients and fuzzers see
the rules), bad input is a 400 naming the field before any work starts (never a 500 from a
``content`` of numbers), and every id is bounded: a 3,000-character id is the client's error,
not a database index that refuses it answered as an outage.

vel-runner reads text messages only; other item and part types are refused. Fields it does
not use are accepted and ignored, as OpenAI's SDKs send many.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from ..messages import (
    MAX_MESSAGE_ID_LENGTH,
    MAX_SESSION_ID_LENGTH,
    Message,
    new_message_id,
)
from ..protocols.responses import RESPONSE_PREFIX
from .bodies import SessionId
from .errors import OpenAIError

#: How many messages one ``input`` or ``items`` list may hold.
MAX_ITEMS = 10_000

MessageId = Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_ID_LENGTH)]
ResponseId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=len(RESPONSE_PREFIX) + MAX_MESSAGE_ID_LENGTH,
        description="resp_ and the id of a stored answer",
    ),
]
AgentId = Annotated[str, Field(min_length=1, max_length=MAX_SESSION_ID_LENGTH)]
#: OpenAI's metadata: at most 16 string pairs, keys up to 64 and values up to 512 characters.
Metadata = Annotated[
    dict[Annotated[str, Field(max_length=64)], Annotated[str, Field(max_length=512)]],
    Field(max_length=16),
]


def _shape(value: Any) -> str | None:
    """Which branch of a ``string | list`` (or ``string | object``) field a value is for, so a
    bad value gets the one error of its own shape."""
    if isinstance(value, str):
        return "(string)"
    if isinstance(value, list):
        return "(list)"
    if isinstance(value, dict):
        return "(object)"
    return None


class TextPart(BaseModel):
    """A text part of a message's ``content``."""

    model_config = ConfigDict(extra="allow")

    type: Literal["input_text", "output_text", "text"]
    text: str


Content = Annotated[
    Annotated[str, Tag("(string)")] | Annotated[list[TextPart], Tag("(list)")],
    Discriminator(
        _shape,
        custom_error_type="content_type",
        custom_error_message="must be a string or a list of text parts",
    ),
]


class InputMessage(BaseModel):
    """A message item (``input`` of a response, ``items`` of a conversation)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: Content
    id: MessageId | None = None


Input = Annotated[
    Annotated[str, Tag("(string)")]
    | Annotated[list[InputMessage], Tag("(list)"), Field(max_length=MAX_ITEMS)],
    Discriminator(
        _shape,
        custom_error_type="input_type",
        custom_error_message="must be a string or a list of messages",
    ),
]


class ConversationRef(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: SessionId


ConversationParam = Annotated[
    Annotated[SessionId, Tag("(string)")] | Annotated[ConversationRef, Tag("(object)")],
    Discriminator(
        _shape,
        custom_error_type="conversation_type",
        custom_error_message="must be a conversation id or {'id': ...}",
    ),
]


class ResponsesRequest(BaseModel):
    """``POST /v1/responses``: the fields vel-runner uses; other Responses fields are accepted
    and ignored."""

    model_config = ConfigDict(extra="allow")

    model: AgentId = Field(description="an agent id")
    input: Input
    instructions: str | None = None
    previous_response_id: ResponseId | None = None
    conversation: ConversationParam | None = None
    store: bool = True
    stream: bool = False
    metadata: Metadata | None = None

    @property
    def conversation_id(self) -> str | None:
        conversation = self.conversation
        return conversation.id if isinstance(conversation, ConversationRef) else conversation


class ConversationRequest(BaseModel):
    """``POST /v1/conversations``: ``metadata.agent`` names the agent whose session the
    ``items`` start."""

    model_config = ConfigDict(extra="allow")

    items: list[InputMessage] = Field(default_factory=list, max_length=MAX_ITEMS)
    metadata: Metadata | None = None


def item_messages(items: Sequence[InputMessage]) -> list[Message]:
    """Message items as messages to store, with the client's id when it gave one."""
    messages: list[Message] = []
    for item in items:
        content = item.content
        text = content if isinstance(content, str) else "".join(p.text for p in content)
        message: Message = {"role": item.role, "content": text}
        if item.id:
            message["id"] = item.id
        messages.append(message)
    return messages


def with_ids(messages: Sequence[Message]) -> list[Message]:
    """``messages``, each without a string id given a new one (stored items all have one)."""
    return [m if isinstance(m.get("id"), str) else {**m, "id": new_message_id()} for m in messages]


def input_messages(value: str | list[InputMessage]) -> tuple[list[Message], Message]:
    """``input`` as the messages before the user's, and the user message."""
    items = [InputMessage(role="user", content=value)] if isinstance(value, str) else value
    messages = item_messages(items)
    if not messages or messages[-1]["role"] != "user":
        raise OpenAIError(400, "input: the last item must be a user message", param="input")
    return messages[:-1], messages[-1]
