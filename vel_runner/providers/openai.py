"""The ``openai`` provider: the official SDK's async client, for OpenAI and any server that
speaks its API (vLLM, Ollama, LiteLLM, a gateway) through ``base_url``.

The client is built at first use, so a missing key is an error then (naming the variable),
not when the config is loaded. Retries, timeouts, auth and error types are the SDK's own.

Requests go through the client's ``post`` (the SDK's documented way to call an endpoint
with a body of your own) rather than ``chat.completions.create``: ``create`` first walks the
whole message list through the SDK's TypedDict transform, a CPU cost that grows with the
history, to turn JSON into the same JSON (figures: docs/performance.md). The messages are
plain JSON already (the stores check that), so the body goes out as it is, and the reply is
parsed into the SDK's own ``ChatCompletion`` / ``ChatCompletionChunk`` types.

The client belongs to the event loop it was built on; a new loop (a second ``asyncio.run``)
gets a new client instead of connections that died with the old loop.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import (
    MissingAPIKeyError,
    ProviderError,
    ProviderTimeoutError,
    ProviderUnreachableError,
)
from ..messages import Message
from ..redact import redact, remember_secrets
from ..tools.base import ToolCall
from .base import Chunk, Completion, Usage
from .tool_deltas import ToolDeltas, fallback_id

if TYPE_CHECKING:
    from openai import AsyncOpenAI

API_KEY_ENV = "OPENAI_API_KEY"
CHAT_COMPLETIONS = "/chat/completions"


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    return Usage(raw.prompt_tokens or 0, raw.completion_tokens or 0)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class OpenAIProvider:
    """Chat completions through ``openai.AsyncOpenAI``."""

    type = "openai"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        organization: str | None = None,
        **_ignored: Any,
    ) -> None:
        self._api_key = api_key
        remember_secrets([api_key, os.environ.get(API_KEY_ENV)])  # hidden in every error
        self.base_url = base_url
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.organization = organization
        self._client: AsyncOpenAI | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIProvider(base_url={redact(repr(self.base_url))}, timeout={self.timeout})"

    @property
    def where(self) -> str:
        """The server, as errors name it (without the credentials a URL may carry)."""
        return redact(self.base_url) if self.base_url else "the OpenAI API"

    @staticmethod
    def preload() -> None:
        """Import the SDK and the types a turn uses (see :func:`vel_runner.providers.preload`)."""
        import openai.types.chat  # noqa: F401

    @property
    def client(self) -> AsyncOpenAI:
        loop = _running_loop()
        if self._client is not None and self._client_loop is not loop:
            self._client = None  # built on a loop that has ended: its connections went with it
        if self._client is None:
            key = self._api_key or os.environ.get(API_KEY_ENV)
            if not key:
                raise MissingAPIKeyError(
                    f"no API key for the openai provider: set the {API_KEY_ENV} environment "
                    "variable or pass model={'api_key': ...} (a local OpenAI-compatible server "
                    "that ignores keys accepts any placeholder)",
                    provider=self.type,
                )
            from openai import AsyncOpenAI, DefaultAsyncHttpxClient

            self._client = AsyncOpenAI(
                api_key=key,
                base_url=self.base_url,
                timeout=self.timeout,
                max_retries=self.max_retries,
                organization=self.organization,
                # the SDK's defaults, minus the wrapper whose __del__ schedules a close on
                # whatever loop runs then (noise, once the client's own loop has ended)
                http_client=DefaultAsyncHttpxClient(),
            )
            self._client_loop = loop
        return self._client

    def _error(self, exc: Exception) -> ProviderError:
        """The SDK's error as a :class:`ProviderError` without credentials: servers echo the
        key they refused (``Incorrect API key provided: sk-...``) and ``base_url`` may carry
        ``user:password@``."""
        import openai

        where = self.where
        status: int | None = None
        kind = ProviderError
        if isinstance(exc, openai.APITimeoutError):
            message = f"{where} did not answer within {self.timeout:g}s"
            kind = ProviderTimeoutError
        elif isinstance(exc, openai.APIConnectionError):
            message = f"could not connect to {where}: {exc}"
            kind = ProviderUnreachableError
        elif isinstance(exc, openai.APIStatusError):
            body, detail, status = exc.body, exc.message, exc.status_code
            if isinstance(body, dict) and isinstance(body.get("message"), str):
                detail = body["message"]
            message = f"{where} answered HTTP {status}: {detail}"
        elif isinstance(exc, json.JSONDecodeError):
            message = f"{where} sent an incomplete or invalid reply: {exc}"
        else:
            message = f"{where} failed: {exc}"
        keys = [self._api_key or "", os.environ.get(API_KEY_ENV) or ""]
        return kind(redact(message, keys), provider=self.type, status=status)

    async def complete(
        self, messages: Sequence[Message], *, model: str, settings: Mapping[str, Any]
    ) -> Completion:
        import openai
        from openai.types.chat import ChatCompletion

        body = {**settings, "model": model, "messages": list(messages)}
        try:
            response = await self.client.post(CHAT_COMPLETIONS, body=body, cast_to=ChatCompletion)
        except (openai.OpenAIError, json.JSONDecodeError) as exc:
            raise self._error(exc) from None  # the SDK's error may quote the key
        if not response.choices:
            raise ProviderError(f"model {model!r} returned no choices", provider=self.type)
        choice = response.choices[0]
        message = choice.message
        calls = []
        for call in message.tool_calls or ():
            function = getattr(call, "function", None)  # custom (non-function) tools: skipped
            if function is not None:
                calls.append(ToolCall(call.id or fallback_id(), function.name, function.arguments))
        usage = _usage(response.usage)
        return Completion(message.content or "", usage, tuple(calls), choice.finish_reason)

    async def stream(
        self, messages: Sequence[Message], *, model: str, settings: Mapping[str, Any]
    ) -> AsyncIterator[Chunk]:
        import openai
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        body = {
            **settings,
            "model": model,
            "messages": list(messages),
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        usage: Usage | None = None
        calls = ToolDeltas()
        finished = False
        reason: str | None = None
        try:
            stream = await self.client.post(
                CHAT_COMPLETIONS,
                body=body,
                cast_to=ChatCompletion,
                stream=True,
                stream_cls=openai.AsyncStream[ChatCompletionChunk],
            )
            async with stream:
                async for event in stream:
                    if event.usage is not None:
                        usage = _usage(event.usage)
                    for choice in event.choices:
                        finished = finished or choice.finish_reason is not None
                        reason = choice.finish_reason or reason
                        if choice.delta and choice.delta.content:
                            yield Chunk(choice.delta.content)
                        for raw in (choice.delta.tool_calls if choice.delta else None) or ():
                            yield Chunk(tool_call=calls.add(raw))
        except (openai.OpenAIError, json.JSONDecodeError) as exc:
            raise self._error(exc) from None  # the SDK's error may quote the key
        if not finished:  # the body ended cleanly, yet the model never said it was done
            raise ProviderError(
                f"{self.where} ended the stream before the reply was complete (no "
                "finish_reason): a partial reply is not an answer",
                provider=self.type,
            )
        yield Chunk(usage=usage, finish_reason=reason)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._client_loop is _running_loop():
            await client.close()
