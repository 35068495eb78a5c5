"""The files of a config: which files a set of paths names, and the merge of their documents
into one :class:`~vel_runner.config.model.Config` (names and agent ids unique across files).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigIssue, DocPath
from .loader import Document
from .model import Config, Declaration, Origin
from .schema import with_defaults

CONFIG_SUFFIXES = (".yaml", ".yml")
BUILTIN_STORE = "memory"


def expand_paths(paths: Sequence[str | Path]) -> tuple[list[Path], list[ConfigIssue]]:
    """Files to read: each file as given, each directory's ``*.yaml``/``*.yml`` sorted."""
    files: list[Path] = []
    issues: list[ConfigIssue] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in CONFIG_SUFFIXES and p.is_file())
            if not found:
                issues.append(
                    ConfigIssue(str(path), 1, 1, "<root>", "no .yaml files in directory", code="io")
                )
            files.extend(found)
        else:
            files.append(path)
    return files, issues


def entity_of(path: DocPath) -> DocPath | None:
    """The provider, store or agent that ``path`` lies in (``None``: the file as a whole)."""
    if len(path) >= 2 and path[0] in ("providers", "stores", "tools", "agents"):
        return path[:2]
    return None


def merge_documents(
    docs: list[tuple[Document, dict[DocPath, set[DocPath]]]],
    files: list[str],
    issues: list[ConfigIssue],
    env: Mapping[str, str],
) -> Config:
    """Merge the documents, leaving out the entities with schema errors (``skipped``, and
    ``rejected`` for their references); ``docs`` pairs each document with its entities'
    schema errors (entity path -> paths below it)."""
    config = Config(files, {}, {}, {}, {}, environ=env)
    for doc, invalid in docs:
        data = with_defaults(doc.data)
        sections = (
            ("providers", config.providers),
            ("stores", config.stores),
            ("tools", config.tools),
        )
        for section, target in sections:
            for name, value in data.get(section, {}).items():
                if (section, name) in invalid:
                    _reject(config, doc, (section, name), value, invalid[(section, name)])
                    continue
                origin = Origin(doc, (section, name))
                first = config.origins.get((section, name))
                if first is not None:
                    issues.append(_duplicate(origin, f"{section[:-1]} {name!r}", first, key=True))
                    continue
                target[name] = value
                config.origins[(section, name)] = origin
        for index, agent in enumerate(data.get("agents", [])):
            if ("agents", index) in invalid:
                _reject(config, doc, ("agents", index), agent, invalid[("agents", index)])
                continue
            origin = Origin(doc, ("agents", index))
            first = config.origins.get(("agents", agent["id"]))
            if first is not None:
                issues.append(_duplicate(origin, f"agent id {agent['id']!r}", first, sub=("id",)))
                continue
            config.agents[agent["id"]] = agent
            config.origins[("agents", agent["id"])] = origin
    if BUILTIN_STORE not in config.stores:
        config.stores[BUILTIN_STORE] = with_defaults({"type": "memory"})
    return config


def _reject(config: Config, doc: Document, path: DocPath, value: Any, bad: set[DocPath]) -> None:
    section, name = path
    config.skipped.add((str(section), str(name)))
    config.rejected.append(Declaration(str(section), Origin(doc, path), value, frozenset(bad)))


def _duplicate(
    origin: Origin, what: str, first: Origin, *, key: bool = False, sub: DocPath = ()
) -> ConfigIssue:
    line, column = first.doc.where(first.path, key=key)
    return origin.issue(
        sub,
        f"duplicate {what} (first declared at {first.doc.file}:{line}:{column})",
        key=key,
        hint="names and agent ids must be unique across all config files",
        code="duplicate",
    )


__all__ = ["BUILTIN_STORE", "CONFIG_SUFFIXES", "entity_of", "expand_paths", "merge_documents"]
