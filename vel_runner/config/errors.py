"""The config error type: every problem found in one run, each with where and why.

Loading and validating never stop at the first problem: they collect :class:`ConfigIssue`
objects (file, line, column, the path in the document, a message and an optional hint) and
raise one :class:`ConfigError` carrying all of them. Messages never contain the value of an
environment variable, only its ``${NAME}`` reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from ..clock import utc_now
from ..errors import InvalidInputError

Severity = Literal["error", "warning"]
#: A position in the document: mapping keys and list indexes from the root.
DocPath = tuple[str | int, ...]


def format_path(path: Sequence[str | int]) -> str:
    """``("agents", 0, "model")`` -> ``agents[0].model`` (``<root>`` for the empty path); a
    key with unprintable characters is quoted (``providers['a\\n']``), so an issue stays one
    line."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not part.isprintable():
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "<root>"


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem: ``file:line:col: path: message`` (line and column are 1-based)."""

    file: str
    line: int
    column: int
    path: str
    message: str
    hint: str | None = None
    severity: Severity = "error"
    #: A short machine-readable kind: ``yaml``, ``schema``, ``reference``, ``env``, ``io``...
    code: str = "invalid"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}: {self.path}: "
        label = "warning: " if self.severity == "warning" else ""
        return f"{where}{label}{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ConfigError(InvalidInputError):
    """The config is invalid; ``issues`` lists every error (and warning) found, in file order."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = sorted(issues, key=issue_order)
        errors = self.errors
        first = errors[0] if errors else (self.issues[0] if self.issues else None)
        summary = str(first) if first else "invalid config"
        if len(errors) > 1:
            summary += f" (and {len(errors) - 1} more error{'s' if len(errors) > 2 else ''})"
        super().__init__(summary)

    @property
    def errors(self) -> list[ConfigIssue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    @property
    def first(self) -> ConfigIssue:
        """The first error: what a one-line report (the runtime's ``last_error``) shows."""
        errors = self.errors
        return errors[0] if errors else self.issues[0]


@dataclass(frozen=True, slots=True)
class ReloadError:
    """Why the last reload failed: the first error of the new config, with its position."""

    file: str
    line: int
    column: int
    path: str
    message: str
    at: datetime = field(default_factory=utc_now)
    hint: str | None = None
    #: How many errors the config had in all (the other ones are in the log).
    count: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.path}: {self.message}"

    @classmethod
    def from_config_error(cls, error: ConfigError, at: datetime | None = None) -> ReloadError:
        """The first error of ``error``, failed ``at`` (default: now)."""
        first: ConfigIssue = error.first
        return cls(
            first.file,
            first.line,
            first.column,
            first.path,
            first.message,
            at=at if at is not None else utc_now(),
            hint=first.hint,
            count=max(1, len(error.errors)),
        )

    def as_dict(self) -> dict[str, Any]:
        """The shape ``GET /v1/config`` and the ``reload-failed`` event use."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "at": self.at.isoformat(),
        }


def issue_order(issue: ConfigIssue) -> tuple[str, int, int, str]:
    return (issue.file, issue.line, issue.column, issue.message)


def did_you_mean(word: str, choices: list[str], label: str) -> str:
    """``did you mean 'x'? <label>: a, b, c`` (the list alone when nothing is close)."""
    import difflib  # only when there is a mistake to explain

    near = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    listing = f"{label}: {', '.join(choices)}" if choices else ""
    return f"did you mean {near[0]!r}? {listing}" if near else listing


__all__ = [
    "ConfigError",
    "ConfigIssue",
    "DocPath",
    "ReloadError",
    "Severity",
    "did_you_mean",
    "format_path",
    "issue_order",
]
