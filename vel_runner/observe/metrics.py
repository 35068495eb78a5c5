"""Prometheus metrics of turns, model and tool calls, tokens, sessions, the store and the
config, fed by the turn hooks (:mod:`.hooks`) and the runtime's events.

One set of metrics per process (:func:`process_metrics`). With ``PROMETHEUS_MULTIPROC_DIR`` set
before the first import of ``prometheus_client`` (``vel-runner serve --workers N`` does it),
prometheus-client's multiprocess mode writes every worker's numbers to that directory and
:func:`exposition` merges them, so one scrape shows the whole server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import Counter as Tally
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PCounter
from prometheus_client import Gauge as PGauge
from prometheus_client import Histogram as PHist
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from . import hooks
from .local_metrics import LocalRegistry

if TYPE_CHECKING:
    from ..runtime import Runtime, RuntimeEvent

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Turns and model calls: from a cached echo reply to a long generation.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
#: Seconds between refreshes of a worker's stuck tool calls in multiprocess mode.
STUCK_REFRESH_SECONDS = 5.0
STORE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


def multiprocess() -> bool:
    """Are this process's metrics shared through ``PROMETHEUS_MULTIPROC_DIR``?"""
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    """The metric families (names and labels as in docs/observability.md).

    In one process they are plain in-process accumulators (:mod:`.local_metrics`) exported
    by a collector at scrape time: a turn pays a few additions, not prometheus-client's lock
    per value. In multiprocess mode they are prometheus-client's own, written to the shared
    files."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        r = registry
        self.registry = registry
        local = LocalRegistry(registry) if registry is not None else None
        Counter, Gauge, Histogram = (
            (local.counter, local.gauge, local.histogram) if local else (PCounter, PGauge, PHist)
        )
        self.turns = Counter("vel_turns", "Turns by outcome.", ["agent", "outcome"], registry=r)
        self.turn_seconds = Histogram(
            "vel_turn_duration_seconds",
            "Whole turns, input to stored reply.",
            ["agent"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "vel_turns_in_flight",
            "Turns running now.",
            ["agent"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.model_seconds = Histogram(
            "vel_model_duration_seconds",
            "Model calls.",
            ["agent", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "vel_tokens", "Tokens the provider reported.", ["agent", "model", "kind"], registry=r
        )
        self.tool_calls = Counter(
            "vel_tool_calls", "Tool calls by outcome.", ["agent", "tool", "outcome"], registry=r
        )
        self.tool_seconds = Histogram(
            "vel_tool_call_duration_seconds",
            "Tool calls.",
            ["agent", "tool"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.sessions = Gauge(
            "vel_sessions",
            "Live sessions, kept current from session events.",
            ["agent", "store"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.store_seconds = Histogram(
            "vel_store_operation_duration_seconds",
            "Session store operations of turns (read: take and read the session; write: commit).",
            ["store", "op"],
            buckets=STORE_BUCKETS,
            registry=r,
        )
        self.tool_stuck = Gauge(
            "vel_tool_calls_stuck",
            "Tool calls still running past their timeout: a sync function cannot be stopped, "
            "so each holds one of its tool's threads until it returns.",
            ["tool"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self._stuck_shown: set[str] = set()
        self.reloads = Counter(
            "vel_config_reloads", "Config reloads by outcome.", ["outcome"], registry=r
        )
        self.config_info = Gauge(
            "vel_config_info",
            "1 for the config version being served.",
            ["version"],
            multiprocess_mode="livemax",
            registry=r,
        )

    def refresh_stuck(self) -> None:
        """Set ``vel_tool_calls_stuck`` from this process's tools (0 for a tool no longer
        stuck); a scrape calls it, so the number is current."""
        from ..tools.threads import stuck_calls

        stuck = stuck_calls()
        for tool in self._stuck_shown - set(stuck):
            self.tool_stuck.labels(tool).set(0)
        for tool, count in stuck.items():
            self.tool_stuck.labels(tool).set(count)
        self._stuck_shown |= set(stuck)


_metrics: Metrics | None = None


def process_metrics() -> Metrics:
    """This process's metrics, created on first use."""
    global _metrics
    if _metrics is None:
        _metrics = Metrics(None if multiprocess() else CollectorRegistry())
    return _metrics


def exposition() -> tuple[bytes, str]:
    """The text a scrape returns (every worker's numbers in multiprocess mode), and its type."""
    metrics = process_metrics()
    metrics.refresh_stuck()
    registry = metrics.registry
    if registry is None:
        from prometheus_client import multiprocess as mp

        registry = CollectorRegistry()
        mp.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def process_exited() -> None:
    """Drop this worker's live gauges (turns in flight, sessions) from the shared files."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(os.getpid())


class _AgentCells:
    """One agent's labelled children, looked up once: ``labels()`` builds a tuple and takes
    a lock per call, which the turn path should not pay a dozen times."""

    __slots__ = ("agent", "in_flight", "metrics", "models", "outcomes", "turn_seconds")

    def __init__(self, metrics: Metrics, agent: str) -> None:
        self.metrics, self.agent = metrics, agent
        self.in_flight = metrics.in_flight.labels(agent)
        self.turn_seconds = metrics.turn_seconds.labels(agent)
        self.outcomes: dict[str, Any] = {}
        self.models: dict[str, tuple[Any, Any, Any]] = {}

    def outcome(self, outcome: str) -> Any:
        child = self.outcomes.get(outcome)
        if child is None:
            child = self.outcomes[outcome] = self.metrics.turns.labels(self.agent, outcome)
        return child

    def model(self, model: str) -> tuple[Any, Any, Any]:
        """Duration histogram, input and output token counters of ``model``."""
        cells = self.models.get(model)
        if cells is None:
            m, agent = self.metrics, self.agent
            cells = self.models[model] = (
                m.model_seconds.labels(agent, model),
                m.tokens.labels(agent, model, "input"),
                m.tokens.labels(agent, model, "output"),
            )
        return cells


class TurnMetrics:
    """The hooks observer that counts and times steps."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._agents: dict[str, _AgentCells] = {}
        self._stores: dict[tuple[str, str], Any] = {}

    def _cells(self, agent: str) -> _AgentCells:
        cells = self._agents.get(agent)
        if cells is None:
            cells = self._agents[agent] = _AgentCells(self._metrics, agent)
        return cells

    def started(self, step: hooks.Step) -> None:
        if step.kind == "turn":
            self._cells(step.agent).in_flight.inc()

    def ended(self, step: hooks.Step) -> None:
        kind = step.kind
        cells = self._cells(step.agent)
        if kind == "turn":
            cells.in_flight.dec()
            cells.outcome(step.outcome).inc()
            if step.outcome != "invalid":
                cells.turn_seconds.observe(step.seconds)
            for op, store, _, seconds in step.store_ops or ():
                child = self._stores.get((store, op))
                if child is None:
                    child = self._stores[(store, op)] = self._metrics.store_seconds.labels(
                        store, op
                    )
                child.observe(seconds)
        elif kind == "chat":
            seconds, tokens_in, tokens_out = cells.model(step.name)
            seconds.observe(step.seconds)
            if step.input_tokens:
                tokens_in.inc(step.input_tokens)
            if step.output_tokens:
                tokens_out.inc(step.output_tokens)
        elif kind == "tool":
            m = self._metrics
            m.tool_calls.labels(step.agent, step.name, step.outcome).inc()
            m.tool_seconds.labels(step.agent, step.name).observe(step.seconds)


class SessionGauge:
    """``vel_sessions{agent, store}`` and the config metrics, from the runtime's events.

    Counted once from the stores' listings when attached and after each reload; between
    those, ``created`` adds one and ``cleared``/``expired`` take one away.
    """

    def __init__(self, metrics: Metrics, runtime: Runtime) -> None:
        self._metrics = metrics
        self._runtime = runtime
        self._counts: Tally[tuple[str, str]] = Tally()
        self._version: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def recount(self) -> None:
        """Count the live sessions of the current agents (one listing per store)."""
        snapshot = self._runtime.snapshot
        wanted = {(a.id, a.store.name) for a in snapshot.agents.values()}
        counts: Tally[tuple[str, str]] = Tally({key: 0 for key in wanted})
        for name, store in snapshot.stores.items():
            try:
                infos = await store.list()
            except Exception as exc:
                log.warning("vel_sessions: cannot list store %s: %s", name, exc)
                continue
            for info in infos:
                if (info.agent_id, info.store) in wanted:
                    counts[(info.agent_id, info.store)] += 1
        for key in set(self._counts) - set(counts):
            self._metrics.sessions.labels(*key).set(0)
        self._counts = counts
        for key, value in counts.items():
            self._metrics.sessions.labels(*key).set(value)
        self._show_version(snapshot.version)

    def _show_version(self, version: str) -> None:
        if version == self._version:
            return
        if self._version is not None:
            self._metrics.config_info.labels(self._version).set(0)
        self._metrics.config_info.labels(version).set(1)
        self._version = version

    def on_event(self, event: RuntimeEvent) -> None:
        kind = event.kind
        if kind == "reloaded":
            self._metrics.reloads.labels("ok").inc()
            task = asyncio.get_running_loop().create_task(self.recount())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        if kind == "reload-failed":
            self._metrics.reloads.labels("failed").inc()
            return
        key = (getattr(event, "agent_id", ""), getattr(event, "store", ""))
        if key not in self._counts:
            return
        if kind == "created":
            self._counts[key] += 1
        elif kind in ("cleared", "expired") and self._counts[key] > 0:
            self._counts[key] -= 1
        else:
            return
        self._metrics.sessions.labels(*key).set(self._counts[key])

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def _refresh_stuck_forever(metrics: Metrics) -> None:
    """Multiprocess mode: a scrape reads every worker's files, but refreshes only its own
    worker's numbers; the others refresh theirs on this beat."""
    while True:
        metrics.refresh_stuck()
        await asyncio.sleep(STUCK_REFRESH_SECONDS)


async def start(runtime: Runtime) -> Callable[[], Any]:
    """Observe turns and ``runtime``'s sessions and config; returns the async stopper."""
    metrics = process_metrics()
    remove_observer = hooks.add_observer(TurnMetrics(metrics))
    gauge = SessionGauge(metrics, runtime)
    remove_listener = runtime.add_listener(gauge.on_event)
    await gauge.recount()
    refresher = None
    if multiprocess():
        refresher = asyncio.get_running_loop().create_task(_refresh_stuck_forever(metrics))

    async def stop() -> None:
        remove_observer()
        remove_listener()
        await gauge.close()
        if refresher is not None:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher

    return stop
