"""OpenTelemetry traces of turns, following the GenAI semantic conventions.

Each turn is an ``invoke_agent {agent}`` span holding ``chat {model}`` spans (model calls),
``execute_tool {tool}`` spans and ``session.read|write {store}`` spans (the session store).
An incoming W3C ``traceparent`` (see :data:`INCOMING`) becomes the turn's parent. Message
contents are recorded only with ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``.

Nothing here imports OpenTelemetry until tracing is turned on, and tracing needs the ``otel``
extra (``pip install 'vel-runner[otel]'``): the server turns it on when the standard
``OTEL_*`` exporter variables are set (:mod:`.trace_exporters`); a library user calls
:func:`install`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any

from . import hooks, trace_exporters

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
#: Any of these set (and the SDK installed) turns tracing on in ``vel-runner serve``.
EXPORTER_ENV = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
#: The OpenTelemetry context a request's ``traceparent`` header carried, if any.
INCOMING: ContextVar[Any] = ContextVar("vel_trace_parent", default=None)

_tracer: Any = None
_remove: Callable[[], None] | None = None


def available() -> bool:
    """Is the ``otel`` extra installed? (Looks without importing it.)"""
    return importlib.util.find_spec("opentelemetry") is not None and (
        importlib.util.find_spec("opentelemetry.sdk") is not None
    )


def enabled() -> bool:
    """Should ``vel-runner serve`` trace? The SDK is installed, ``OTEL_SDK_DISABLED`` is not
    true, and an exporter is configured: ``OTEL_TRACES_EXPORTER`` (any but ``none``) or, when
    it is unset, an OTLP endpoint variable."""
    if _tracer is not None:
        return True
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get(trace_exporters.EXPORTER_ENV, "").strip():
        configured = bool(trace_exporters.exporter_names())
    else:
        configured = any(os.environ.get(name) for name in EXPORTER_ENV)
    return configured and available()


def active() -> bool:
    """Are turns being traced right now?"""
    return _tracer is not None


def capture_content() -> bool:
    return os.environ.get(CAPTURE_ENV, "").strip().lower() == "true"


def install(tracer_provider: Any = None) -> Callable[[], None]:
    """Trace every turn of this process with ``tracer_provider`` (default: the global one);
    returns the function that stops it."""
    global _tracer, _remove
    from opentelemetry import trace

    if _remove is not None:
        _remove()
    provider = tracer_provider or trace.get_tracer_provider()
    _tracer = provider.get_tracer("vel_runner")
    remove_observer = hooks.add_observer(SpanObserver(_tracer, capture_content()))

    def remove() -> None:
        global _tracer, _remove
        remove_observer()
        if _remove is remove:
            _tracer, _remove = None, None

    _remove = remove
    return remove


def start() -> Callable[[], Any]:
    """The server's tracing: an SDK provider exporting where the standard ``OTEL_*``
    variables say (:mod:`.trace_exporters`: OTLP, the console...) unless the application
    set its own; returns the async stopper that flushes it."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider: Any = trace.get_tracer_provider()
    owned = None
    if not isinstance(provider, TracerProvider):
        owned = provider = TracerProvider()  # resource and sampler from OTEL_* too
        for exporter in trace_exporters.exporters():
            owned.add_span_processor(BatchSpanProcessor(exporter))
    remove = install(provider)

    async def stop() -> None:
        remove()
        if owned is not None:
            owned.shutdown()

    return stop


def extract(headers: Mapping[str, str]) -> Any:
    """The OpenTelemetry context of a request's ``traceparent``/``tracestate`` headers."""
    from opentelemetry.propagate import extract as otel_extract

    return otel_extract(headers)


def _messages_json(messages: Any) -> str:
    return json.dumps(
        [
            {"role": m.get("role"), "parts": [{"type": "text", "content": m.get("content")}]}
            for m in messages or ()
        ],
        ensure_ascii=False,
        default=str,
    )


class SpanObserver:
    """The hooks observer that turns steps into spans."""

    def __init__(self, tracer: Any, capture: bool) -> None:
        from opentelemetry import trace
        from opentelemetry.trace import SpanKind, Status, StatusCode

        self._tracer, self._capture = tracer, capture
        self._in_span, self._kinds = trace.set_span_in_context, SpanKind
        self._error = lambda message: Status(StatusCode.ERROR, message)

    def _name_and_attributes(self, step: hooks.Step) -> tuple[str, dict[str, Any], Any]:
        attrs: dict[str, Any] = {"gen_ai.agent.name": step.agent}
        if step.session is not None:
            attrs["gen_ai.conversation.id"] = step.session
        kind = step.kind
        if kind == "turn":
            attrs.update({"gen_ai.operation.name": "invoke_agent", "vel.run_id": step.run_id})
            return f"invoke_agent {step.agent}", attrs, self._kinds.INTERNAL
        if kind == "chat":
            attrs.update({"gen_ai.operation.name": "chat", "gen_ai.request.model": step.name})
            if self._capture and step.messages is not None:
                attrs["gen_ai.input.messages"] = _messages_json(step.messages)
            return f"chat {step.name}", attrs, self._kinds.CLIENT
        if kind == "tool":
            attrs.update({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": step.name})
            return f"execute_tool {step.name}", attrs, self._kinds.INTERNAL
        raise ValueError(f"no span for a {kind!r} step")

    def _store_spans(self, turn: hooks.Step, parent: Any) -> None:
        """The turn's session reads and writes, as the children they were (timed by the
        hooks, made spans now with their own start and end)."""
        now_ns, now = time.time_ns(), time.perf_counter()
        context = self._in_span(parent)
        for op, store, started, seconds in turn.store_ops or ():
            start_ns = now_ns - int((now - started) * 1e9)
            attrs = {"db.operation.name": op, "vel.store.name": store}
            span = self._tracer.start_span(
                f"session.{op} {store}",
                context=context,
                kind=self._kinds.CLIENT,
                attributes=attrs,
                start_time=start_ns,
            )
            span.end(end_time=start_ns + int(seconds * 1e9))

    def _parent(self, step: hooks.Step) -> Any:
        if step.parent is not None:
            span = step.parent.span
            return self._in_span(span) if span is not None else None
        return INCOMING.get()

    def started(self, step: hooks.Step) -> None:
        name, attrs, kind = self._name_and_attributes(step)
        step.span = self._tracer.start_span(
            name, context=self._parent(step), kind=kind, attributes=attrs
        )

    def ended(self, step: hooks.Step) -> None:
        span, step.span = step.span, None
        end_time = None
        if span is None:  # reported after the fact (hooks.record_tool_call)
            name, attrs, kind = self._name_and_attributes(step)
            end_time = time.time_ns()
            start_time = end_time - int(step.seconds * 1e9)
            span = self._tracer.start_span(
                name, context=self._parent(step), kind=kind, attributes=attrs, start_time=start_time
            )
        if step.kind in ("turn", "chat"):
            span.set_attribute("gen_ai.usage.input_tokens", step.input_tokens)
            span.set_attribute("gen_ai.usage.output_tokens", step.output_tokens)
        ok = step.outcome == "ok"
        if step.kind == "chat":
            span.set_attribute("gen_ai.response.finish_reasons", ["stop" if ok else "error"])
            if self._capture and step.output is not None:
                reply = [{"role": "assistant", "content": step.output}]
                span.set_attribute("gen_ai.output.messages", _messages_json(reply))
        if step.store_ops:
            self._store_spans(step, span)
        if not ok:
            error = step.error
            span.set_attribute("error.type", type(error).__name__ if error else step.outcome)
            span.set_status(self._error(step.outcome))
        span.end(end_time=end_time)
