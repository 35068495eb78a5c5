"""The top of the dashboard: server URL, connection state, live config, failed reload.

Renders from plain values handed to :meth:`StatusHeader.update_status`, with every server
string inserted as plain text (never markup), and no secret ever reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from .api_types import ConfigInfo
from .durations import ago

#: connection state -> (dot colour, label)
STATES: dict[str, tuple[str, str]] = {
    "connecting": ("yellow", "connecting…"),
    "live": ("green", "connected · live events"),
    "polling": ("green", "connected · polling"),
    "disconnected": ("red", "disconnected, retrying"),
    "unauthorized": ("red", "wrong API key"),
    "error": ("red", "server error"),
}


@dataclass(frozen=True, slots=True)
class Status:
    """Everything the header shows."""

    url: str
    state: str = "connecting"
    detail: str = ""
    config: ConfigInfo | None = None
    last_data_at: datetime | None = None
    #: Tool calls waiting for a person (shown only when there are some).
    approvals: int = 0


class StatusHeader(Static):
    """Three short lines: where, whether connected, which config (and a failed reload)."""

    def render_status(self, status: Status, now: datetime) -> Text:
        colour, label = STATES.get(status.state, ("red", status.state))
        text = Text()
        text.append("vel-runner monitor  ", style="bold")
        text.append(status.url, style="underline")
        text.append("  ● ", style=f"bold {colour}")
        text.append(label, style=f"bold {colour}")
        if status.detail:
            text.append(f" — {status.detail}", style=colour)
        if status.state in {"disconnected", "error"} and status.last_data_at is not None:
            text.append(f"  (showing data from {ago(status.last_data_at, now)})", style="dim")
        if status.approvals:
            plural = "s" if status.approvals > 1 else ""
            text.append(
                f"  ⚠ {status.approvals} approval{plural} waiting (a)", style="bold black on yellow"
            )
        text.append("\n")
        config = status.config
        if config is None:
            text.append("config: unknown", style="dim")
        else:
            text.append("config ")
            text.append(config.version[:12] or "?", style="bold")
            if config.loaded_at is not None:
                loaded = config.loaded_at.strftime("%Y-%m-%d %H:%M:%S UTC")
                text.append(f"  loaded {loaded} ({ago(config.loaded_at, now)})")
            error = config.last_reload_error
            if error is not None:
                text.append("\n")
                text.append(f"reload failed: {error.location}: {error.message}", style="bold red")
                if error.at is not None:
                    text.append(f" ({ago(error.at, now)})", style="red")
        return text

    def update_status(self, status: Status, now: datetime) -> None:
        self.update(self.render_status(status, now))
