"""Which calls wait for a person: a tool's ``approval`` setting, read once where the tool is
defined, so every :class:`~vel_runner.tools.base.ToolSpec` already says whether its calls need
an approval (and how long one may wait).

``approval: required`` (or ``True`` in Python) covers every tool of the source; a list of globs
covers the tools whose names match one (an MCP server's own names, before its ``prefix``, as
``allow`` and ``deny`` read them).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from ..durations import parse_duration
from .base import ToolDefinitionError

REQUIRED = "required"
#: What ``approval=`` takes in Python: ``True``/``"required"``, globs, or ``None``/``False``
#: (or a rule already made).
ApprovalSetting = Union[bool, str, Sequence[str], "ApprovalRule", None]


@dataclass(frozen=True, slots=True)
class ApprovalRule:
    """``patterns=None``: every tool; else the tools whose names match a glob."""

    patterns: tuple[str, ...] | None = None
    #: Seconds a pending approval waits (``None``: as long as its session lives).
    timeout: float | None = None

    @classmethod
    def parse(cls, setting: ApprovalSetting, timeout: float | None = None) -> ApprovalRule | None:
        """The rule for ``approval=setting`` (``None``: no call waits)."""
        if isinstance(setting, ApprovalRule):
            return setting
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
        ):
            raise ToolDefinitionError(
                f"approval_timeout must be a positive number of seconds, got {timeout!r}",
                part="approval_timeout",
            )
        if setting is None or setting is False:
            if timeout is not None:
                raise ToolDefinitionError(
                    "approval_timeout is set but approval is not", part="approval_timeout"
                )
            return None
        seconds = None if timeout is None else float(timeout)
        if setting is True or setting == REQUIRED:
            return cls(None, seconds)
        if isinstance(setting, (str, bytes)) or not isinstance(setting, Sequence):
            raise ToolDefinitionError(
                f"approval must be 'required', True, or a list of tool name globs, got "
                f"{setting!r:.80}",
                part="approval",
            )
        patterns = tuple(setting)
        if not patterns or not all(isinstance(p, str) and p for p in patterns):
            raise ToolDefinitionError(
                f"approval globs must be non-empty strings, got {list(patterns)!r:.80}",
                part="approval",
            )
        return cls(patterns, seconds)

    @classmethod
    def from_decl(cls, decl: Mapping[str, Any]) -> ApprovalRule | None:
        """The rule of a checked ``tools:`` declaration; an ``approval_timeout`` without
        ``approval``, or an empty list of globs, changes nothing (validate warns about both)."""
        setting = decl.get("approval")
        if setting is None or setting == []:
            return None
        wait = decl.get("approval_timeout")
        return cls.parse(setting, None if wait is None else parse_duration(wait))

    def applies(self, name: str) -> bool:
        """Do calls of tool ``name`` (the source's own name for it) wait for approval?"""
        if self.patterns is None:
            return True
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns)


__all__ = ["REQUIRED", "ApprovalRule", "ApprovalSetting"]
