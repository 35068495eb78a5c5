"""The merged config: what every file declared, where, and what the checks found.

:class:`Config` is the product of :mod:`vel_runner.config.validate`; the runtime builds agents
from it. Each declaration keeps its :class:`Origin` so any later problem can point at its line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigIssue, DocPath
from .loader import Document


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a provider, store, tool or agent was declared."""

    doc: Document
    path: DocPath

    @property
    def file(self) -> str:
        return self.doc.file

    def issue(self, sub: DocPath, message: str, **kw: Any) -> ConfigIssue:
        return self.doc.issue((*self.path, *sub), message, **kw)


@dataclass(frozen=True, slots=True)
class Declaration:
    """A provider, store, tool or agent as written, with where its schema errors are.

    Declarations with schema errors are left out of the merge (``Config.rejected``) but kept,
    so that the names they refer to (provider, store, tools, an agent tool's agent) can still
    be judged where they are well formed: one run of ``validate`` shows a schema error and a
    wrong name together."""

    section: str
    origin: Origin
    data: Any
    #: where its schema errors are, relative to the declaration (empty: it was merged)
    bad: frozenset[DocPath] = frozenset()

    @property
    def merged(self) -> bool:
        return not self.bad

    def value(self, *sub: str | int) -> Any:
        """The value at ``sub`` when it has no schema error of its own (nor below it), else
        ``None``."""
        if any(path[: len(sub)] == sub for path in self.bad):
            return None
        return self.written(*sub)

    def written(self, *sub: str | int) -> Any:
        """The value at ``sub`` as written (``None`` where there is none), errors or not."""
        value = self.data
        for part in sub:
            if isinstance(value, dict) and isinstance(part, str):
                value = value.get(part)
            elif isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value):
                value = value[part]
            else:
                return None
        return value


@dataclass(slots=True)
class Config:
    """A valid, merged config with defaults filled in (values may hold secrets: never print)."""

    files: list[str]
    providers: dict[str, dict[str, Any]]
    stores: dict[str, dict[str, Any]]
    agents: dict[str, dict[str, Any]]
    origins: dict[tuple[str, str], Origin]
    warnings: list[ConfigIssue] = field(default_factory=list)
    #: Entities left out of the merge for schema errors: references to them are not judged.
    skipped: set[tuple[str, str]] = field(default_factory=set)
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: The python tools, built while checking (see :mod:`vel_runner.config.tools_check`).
    function_tools: dict[str, Any] = field(default_factory=dict, repr=False)
    #: The declarations behind ``skipped``, for the names they refer to.
    rejected: list[Declaration] = field(default_factory=list, repr=False)

    def declarations(self, section: str) -> list[Declaration]:
        """Every declaration of ``section``: the merged ones, then those with schema errors."""
        merged = {
            "providers": self.providers,
            "stores": self.stores,
            "tools": self.tools,
            "agents": self.agents,
        }[section]
        found = [
            Declaration(section, origin, merged[key])
            for (kind, key), origin in self.origins.items()
            if kind == section
        ]
        return found + [r for r in self.rejected if r.section == section]

    @property
    def agent_ids(self) -> set[str]:
        """Every agent id declared, also of agents left out for schema errors."""
        ids = (decl.value("id") for decl in self.declarations("agents"))
        return {agent_id for agent_id in ids if isinstance(agent_id, str)}

    @property
    def version(self) -> str:
        """Short hash of the resolved config: equal configs have equal versions."""
        parts = [self.providers, self.stores, self.agents, self.tools]
        import hashlib  # not needed by ``vel-runner validate``

        body = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()[:12]

    def origin(self, section: str, name: str) -> Origin:
        """Where ``section.name`` was declared."""
        return self.origins[(section, name)]

    def issue(self, section: str, name: str, message: str, **kw: Any) -> ConfigIssue:
        origin = self.origins.get((section, name))
        if origin is None:
            return ConfigIssue(self.files[0], 1, 1, f"{section}.{name}", message, **kw)
        return origin.issue((), message, **kw)


__all__ = ["Config", "Declaration", "Origin"]
