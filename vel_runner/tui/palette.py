"""The command palette's dashboard commands (``ctrl+p``): every action, by name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .rows import COLUMNS


def dashboard_commands(screen: object) -> list[tuple[str, str, Callable[[], object]]]:
    """(title, help, callback) for the main screen's actions; none on other screens."""
    from .main_screen import MainScreen

    if not isinstance(screen, MainScreen):
        return []
    commands: list[tuple[str, str, Callable[[], object]]] = [
        ("Open session", "show the selected session's messages", screen.action_open),
        ("Clear session", "delete the selected session (asks first)", screen.action_clear_session),
        (
            "Clean up inactive sessions",
            "delete sessions inactive for longer than a duration (asks first)",
            screen.action_cleanup,
        ),
        ("Filter sessions", "by agent or session id", screen.action_filter),
        ("Clear filter", "show every session again", screen.action_clear_filter),
        ("Refresh now", "fetch every session from the server", screen.action_refresh),
        ("Reverse sort order", "flip the current sort", screen.action_reverse_sort),
        ("Help", "list every key", screen.app.action_help),
    ]
    for key, header, _ in COLUMNS:
        commands.append((f"Sort by {header}", "", partial(screen.action_sort, key)))
    return commands


class DashboardCommands(Provider):
    """Offers :func:`dashboard_commands` for the screen the palette was opened on."""

    async def discover(self) -> Hits:
        for title, help_text, callback in dashboard_commands(self.screen):
            yield DiscoveryHit(title, callback, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in dashboard_commands(self.screen):
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title, help=help_text)
