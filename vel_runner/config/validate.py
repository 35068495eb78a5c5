"""Load and check a whole config: the schema of each file, the merge of several files
(:mod:`.files`), and what the schema cannot say (:mod:`.checks`, :mod:`.tools_check`).

:func:`check_config` collects every issue of every file in one pass (for ``vel-runner
validate``); :func:`load_config` returns the resolved :class:`Config` or raises one
:class:`ConfigError` with all of them (for the runtime).

Unset ``${VAR}``: an error where the value is in use (an agent, or a provider or store an
agent refers to), a warning in a declaration no agent uses, so an offline agent still loads
when OPENAI_API_KEY is unset.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from .checks import DSN_ENV, semantic_issues
from .errors import ConfigError, ConfigIssue, DocPath, issue_order
from .files import CONFIG_SUFFIXES, entity_of, expand_paths, merge_documents
from .loader import Document, load_document
from .model import Config, Origin
from .schema_check import schema_issues
from .tools_check import tool_issues


def check_config(
    paths: Sequence[str | Path],
    environ: Mapping[str, str] | None = None,
    *,
    build_tools: bool = True,
) -> tuple[Config | None, list[ConfigIssue]]:
    """Every issue (errors and warnings) of the merged config, and the config if valid.

    ``build_tools=False`` is for a check alone (``vel-runner validate``): a function tool is
    built only when its signature needs the full schema to be judged, so the config's
    ``function_tools`` may be incomplete and it must not be built into a runtime."""
    env = os.environ if environ is None else environ
    files, issues = expand_paths(paths)
    docs: list[tuple[Document, dict[DocPath, set[DocPath]]]] = []
    complete = not issues
    for file in files:
        try:
            doc = load_document(file, env)
        except ConfigError as exc:
            issues.extend(exc.issues)
            complete = False
            continue
        bad_paths: set[DocPath] = set()
        issues.extend(schema_issues(doc, bad_paths))
        invalid: dict[DocPath, set[DocPath]] = {}
        for path in bad_paths:
            entity = entity_of(path)
            if entity is None:
                complete = False  # the file's shape is wrong: leave it all out
                break
            invalid.setdefault(entity, set()).add(path[len(entity) :])
        else:
            docs.append((doc, invalid))
    config = merge_documents(docs, [str(f) for f in files], issues, env)
    issues.extend(semantic_issues(config, complete=complete))
    issues.extend(tool_issues(config, complete=complete, build=build_tools))
    issues.sort(key=issue_order)
    if any(issue.severity == "error" for issue in issues):
        return None, issues
    config.warnings = [issue for issue in issues if issue.severity == "warning"]
    return config, issues


def load_config(paths: Sequence[str | Path], environ: Mapping[str, str] | None = None) -> Config:
    """The valid merged config, or :class:`ConfigError` listing every problem."""
    config, issues = check_config(paths, environ)
    if config is None:
        raise ConfigError(issues)
    return config


__all__ = [
    "CONFIG_SUFFIXES",
    "DSN_ENV",
    "Config",
    "Origin",
    "check_config",
    "expand_paths",
    "load_config",
]
