"""The command palette's screen commands (``ctrl+p``): every action of a screen, by name.

A screen offers its commands by listing this provider in its own ``COMMANDS`` and
implementing :class:`CommandSource`; the palette never needs to know the screen's type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

#: (title, help, callback) of one palette command.
Command = tuple[str, str, Callable[[], object]]


@runtime_checkable
class CommandSource(Protocol):
    """A screen that offers commands to the palette."""

    def palette_commands(self) -> list[Command]: ...


class DashboardCommands(Provider):
    """Offers the commands of the screen the palette was opened on."""

    def _commands(self) -> list[Command]:
        screen = self.screen
        return screen.palette_commands() if isinstance(screen, CommandSource) else []

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text or None)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, text=title, help=help_text)
