"""The server's shared state: :class:`ServerState` on ``app.state.vel`` and ``state_of``.

Its own module so that the app and the route modules both import it, never each other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fastapi import Request

from ..observe.recent_turns import RecentTurns
from .errors import ApiError

if TYPE_CHECKING:
    from ..agent import Agent
    from ..runtime import Runtime
    from .observability import Stopper

RuntimeLoader = Callable[[], Awaitable["Runtime"]]


@dataclass
class ServerState:
    """What every route needs: the runtime and the server's settings."""

    runtime: Runtime | None
    loader: RuntimeLoader | None = None
    close_runtime: bool = True
    ping_interval: float = 15.0
    freeze_heap: bool = False
    sweep: bool = False
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    metrics: bool = False
    turn_log_level: int = logging.DEBUG
    observers: list[Stopper] = field(default_factory=list)
    #: Turns of the last minutes, for a dashboard that connects (``/v1/events?turns=true``).
    recent_turns: RecentTurns = field(default_factory=RecentTurns)

    @property
    def live(self) -> Runtime:
        if self.runtime is None:
            raise ApiError(503, "the configuration is not loaded yet", "not_ready")
        return self.runtime

    def agent(self, agent_id: str) -> Agent:
        """The agent of the current snapshot (UnknownAgentError -> 404)."""
        return self.live.agent(agent_id)


def state_of(request: Request) -> ServerState:
    """The app's one :class:`ServerState` (set by ``create_app``)."""
    return request.app.state.vel
