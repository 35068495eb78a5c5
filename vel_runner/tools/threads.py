"""Worker threads for sync tools: a small bounded set per tool.

asyncio's default executor is shared by everything that needs a thread (the model and
database clients' DNS lookups, the config reload...). A sync function cannot be stopped, so
a tool call that hangs past its timeout keeps its thread: six such calls used to take every
thread of that executor and make every sync tool of every agent time out. Here each tool has
its own threads, at most ``limit``: a tool that hangs uses up its own, never another's.

The threads are daemons: a call that never returns must not keep the process from exiting
(``concurrent.futures`` joins its threads at exit). A call still running past its timeout
is *stuck*: :func:`stuck_calls` counts them per tool (for the metrics and the dashboard), and
when every thread of a tool is stuck a new call fails at once, saying so, instead of waiting
for a thread that may never come back.
"""

from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from ..own_thread import Outcome, call_on, outcome_of, settle
from .base import DEFAULT_THREADS, ToolCallError
from .outcomes import check_limit

#: Seconds an idle thread waits for another call before it ends.
IDLE_SECONDS = 60.0

_registry: weakref.WeakSet[ToolThreads] = weakref.WeakSet()
_registry_lock = threading.Lock()


class _Job:
    """One call: run in a worker thread, its outcome handed back to the caller's loop."""

    __slots__ = ("context", "deadline", "func", "future", "kwargs", "loop")

    def __init__(
        self,
        func: Callable[..., Any],
        kwargs: Mapping[str, Any],
        loop: asyncio.AbstractEventLoop,
        deadline: float,
    ) -> None:
        self.func, self.kwargs, self.loop, self.deadline = func, kwargs, loop, deadline
        self.future: asyncio.Future[Any] = loop.create_future()
        self.context = contextvars.copy_context()  # as asyncio.to_thread: request ids, ...

    def run(self) -> Outcome:
        return outcome_of(self.context.run, self.func, **self.kwargs)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class ToolThreads:
    """The worker threads of one tool (``name``), at most ``limit`` at a time."""

    def __init__(self, name: str, limit: int = DEFAULT_THREADS, *, registered: bool = True) -> None:
        self.name, self.limit = name, check_limit(limit, "threads")
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._running: set[_Job] = set()  # calls given a thread and not finished
        self._threads = 0  # live worker threads
        self._idle = 0  # of them, waiting for a job and not yet promised one
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        if registered:  # counted by stuck_calls()
            with _registry_lock:
                _registry.add(self)

    def __repr__(self) -> str:
        return f"ToolThreads({self.name!r}, running={self.running}, stuck={self.stuck})"

    @property
    def running(self) -> int:
        """Calls running in a thread now (stuck ones included)."""
        return len(self._running)

    @property
    def stuck(self) -> int:
        """Calls still running past their timeout."""
        now = time.monotonic()
        with self._lock:
            return sum(job.deadline <= now for job in self._running)

    async def run(self, func: Callable[..., Any], kwargs: Mapping[str, Any], timeout: float) -> Any:
        """``func(**kwargs)`` in one of the threads; its timeout (seconds) marks it stuck
        when it runs longer. Cancelling this abandons the call: its thread runs it to its
        end and the result is dropped."""
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if len(self._running) < self.limit:
                    job = _Job(func, kwargs, loop, time.monotonic() + timeout)
                    self._start(job)
                    break
                now = time.monotonic()
                if all(job.deadline <= now for job in self._running):
                    raise ToolCallError(
                        f"{self.name} cannot run now: its {self.limit} threads are all still "
                        "running earlier calls that passed their timeout"
                    )
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, waiter))
            try:
                await waiter
            finally:
                with self._lock:
                    if (loop, waiter) in self._waiters:
                        self._waiters.remove((loop, waiter))
        return await job.future

    def _start(self, job: _Job) -> None:
        """Queue ``job`` for an idle thread, or start one (called with the lock held)."""
        self._running.add(job)
        self._jobs.put(job)
        if self._idle:
            self._idle -= 1  # that thread is promised this job
            return
        self._threads += 1
        thread = threading.Thread(
            target=self._work, name=f"tool-{self.name}-{self._threads}", daemon=True
        )
        thread.start()

    def _work(self) -> None:
        while True:
            try:
                job = self._jobs.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._idle:  # nobody promised this thread a job: end it
                        self._idle -= 1
                        self._threads -= 1
                        return
                continue  # a job was promised to an idle thread at the last moment: take it
            outcome = job.run()
            with self._lock:
                self._running.discard(job)
                self._idle += 1  # before the caller hears of it, so a next call reuses us
                waiters, self._waiters = self._waiters, []
            call_on(job.loop, settle, job.future, outcome)
            for loop, waiter in waiters:  # a thread is free: they check again
                call_on(loop, _wake, waiter)
            del job, outcome  # do not keep the last result alive while idle


_shared: weakref.WeakValueDictionary[tuple[str, Callable[..., Any]], ToolThreads] = (
    weakref.WeakValueDictionary()
)


def threads_for(name: str, func: Callable[..., Any], limit: int = DEFAULT_THREADS) -> ToolThreads:
    """The threads of tool ``name`` running ``func``: one set per pair in this process, so a
    reload that builds the tool again (same module, same function) keeps its threads, its
    bound and its stuck calls, instead of adding ``limit`` more threads each time."""
    check_limit(limit, "threads")
    with _registry_lock:
        threads = _shared.get((name, func))
        if threads is None:
            threads = _shared[(name, func)] = ToolThreads(name, limit, registered=False)
            _registry.add(threads)
        return threads


def stuck_calls() -> dict[str, int]:
    """Calls running past their timeout, per tool name, in this process (tools retired by a
    reload included while their threads run)."""
    with _registry_lock:
        every = list(_registry)
    counts: Counter[str] = Counter()
    for threads in every:
        stuck = threads.stuck
        if stuck:
            counts[threads.name] += stuck
    return dict(counts)


__all__ = ["DEFAULT_THREADS", "ToolThreads", "stuck_calls", "threads_for"]
