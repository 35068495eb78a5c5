"""Load and check a whole config: schema, merge of several files, and what the schema cannot
say (references to undeclared providers or stores, duplicate ids, contradictory context
settings, unset environment variables, a database store without a DSN).

:func:`check_config` collects every issue of every file in one pass (for ``vel-runner
validate``); :func:`load_config` returns the resolved :class:`Config` or raises one
:class:`ConfigError` with all of them (for the runtime).

Unset ``${VAR}``: an error where the value is in use (an agent, or a provider or store an
agent refers to), a warning in a declaration no agent uses, so an offline agent still loads
when OPENAI_API_KEY is unset.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..durations import parse_duration
from ..errors import InvalidInputError
from ..redact import credentials_in
from .errors import ConfigError, ConfigIssue, DocPath, issue_order
from .interpolate import written_text
from .loader import Document, load_document
from .schema import did_you_mean, schema_issues, with_defaults
from .tools_check import tool_issues

CONFIG_SUFFIXES = (".yaml", ".yml")
BUILTIN_STORE = "memory"
DSN_ENV = "POSTGRES_DSN"
#: MCP header and env names that hold credentials (their values belong in the environment).
_CREDENTIAL = re.compile(r"auth|token|key|secret|pass|cookie", re.IGNORECASE)
_SECRET_NAME = re.compile(r"[^A-Za-z0-9_]")


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
    docs: list[tuple[Document, set[DocPath]]] = []
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
        entities = {_entity(path) for path in bad_paths}
        if None in entities:
            complete = False  # the file's shape is wrong: leave it all out
        else:
            docs.append((doc, {e for e in entities if e is not None}))
    config = _merge(docs, [str(f) for f in files], issues, env)
    issues.extend(_semantic_issues(config, complete=complete))
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


def _entity(path: DocPath) -> DocPath | None:
    """The provider, store or agent that ``path`` lies in (``None``: the file as a whole)."""
    if len(path) >= 2 and path[0] in ("providers", "stores", "tools", "agents"):
        return path[:2]
    return None


def _merge(
    docs: list[tuple[Document, set[DocPath]]],
    files: list[str],
    issues: list[ConfigIssue],
    env: Mapping[str, str],
) -> Config:
    """Merge the documents, leaving out the entities with schema errors (``skipped``)."""
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
                    config.skipped.add((section, name))
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
                config.skipped.add(("agents", str(index)))
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


def _semantic_issues(config: Config, *, complete: bool = True) -> list[ConfigIssue]:
    """Checks across the merged files. When some file failed to load (``complete=False``),
    references and "no agents" are not judged: the missing part may declare them."""
    issues: list[ConfigIssue] = []
    used_providers: dict[str, str] = {}
    used_stores: dict[str, str] = {}
    for agent_id, agent in config.agents.items():
        origin = config.origins[("agents", agent_id)]
        provider = agent["model"]["provider"]
        if provider in config.providers:
            used_providers.setdefault(provider, agent_id)
        elif complete and ("providers", provider) not in config.skipped:
            issues.append(
                _unknown(origin, ("model", "provider"), "provider", provider, config.providers)
            )
        store = agent["store"]
        if store in config.stores:
            used_stores.setdefault(store, agent_id)
        elif complete and ("stores", store) not in config.skipped:
            issues.append(_unknown(origin, ("store",), "store", store, config.stores))
        issues.extend(_context_issues(origin, agent.get("context", {})))
        issues.extend(_ttl_issues(origin, agent))
        issues.extend(_env_issues(origin, f"needed by agent {agent_id!r}"))
    for name, provider in config.providers.items():
        origin = config.origins[("providers", name)]
        user = used_providers.get(name)
        issues.extend(_env_issues(origin, _user_text(user), unused=user is None))
        if "api_key" in provider and ("api_key",) not in _env_subpaths(origin):
            issues.append(_literal_secret(origin, ("api_key",), '"${OPENAI_API_KEY}"'))
        if _written_credentials(origin, "base_url", provider):
            example = '"https://user:${GATEWAY_PASSWORD}@host/v1"'
            issues.append(_literal_secret(origin, ("base_url",), example))
    for name, tool in config.tools.items():
        if tool["type"] == "mcp":
            issues.extend(_mcp_secret_issues(config.origins[("tools", name)], tool))
    for name, store in config.stores.items():
        user = used_stores.get(name)
        if ("stores", name) not in config.origins:
            continue  # the built-in memory store
        origin = config.origins[("stores", name)]
        issues.extend(_env_issues(origin, _user_text(user), unused=user is None))
        issues.extend(_store_issues(config, name, store, origin, unused=user is None))
    if not config.agents and complete and not config.skipped:
        issues.append(
            ConfigIssue(
                config.files[0] if config.files else "agents.yaml",
                1,
                1,
                "agents",
                "no agents declared",
                "add at least one agent under 'agents:'",
                code="empty",
            )
        )
    return issues


def _user_text(agent_id: str | None) -> str:
    return f"needed by agent {agent_id!r}" if agent_id else "not used by any agent yet"


def _unknown(
    origin: Origin, sub: DocPath, what: str, name: str, declared: Mapping[str, Any]
) -> ConfigIssue:
    return origin.issue(
        sub,
        f"{what} {name!r} is not declared",
        hint=did_you_mean(name, sorted(declared), f"declared {what}s"),
        code="reference",
    )


def _context_issues(origin: Origin, context: Mapping[str, Any]) -> list[ConfigIssue]:
    mode = context.get("mode", "full")
    if "max_history" in context and mode in ("full", "stateless"):
        why = "sees only the current message" if mode == "stateless" else "keeps the whole history"
        return [
            origin.issue(
                ("context", "max_history"),
                f"max_history has no effect with mode '{mode}', which {why}",
                hint="use mode: window (or summarize) to keep the last max_history messages",
                code="context",
                key=True,
            )
        ]
    return []


def _ttl_issues(origin: Origin, decl: Mapping[str, Any]) -> list[ConfigIssue]:
    ttl = decl.get("ttl")
    if ttl is None or ("ttl",) in _env_subpaths(origin, missing_only=True):
        return []
    try:
        seconds = parse_duration(ttl)
    except InvalidInputError as exc:
        return [origin.issue(("ttl",), str(exc), code="schema")]
    if seconds <= 0:
        return [
            origin.issue(
                ("ttl",),
                "ttl must be greater than 0",
                hint="omit it (or null) for sessions that never expire",
                code="schema",
            )
        ]
    return []


def _store_issues(
    config: Config, name: str, store: Mapping[str, Any], origin: Origin, *, unused: bool
) -> list[ConfigIssue]:
    issues = _ttl_issues(origin, store)
    if store["type"] != "database":
        return issues
    severity = "warning" if unused else "error"
    if "dsn" not in store and not config.environ.get(DSN_ENV):
        issues.append(
            origin.issue(
                (),
                f"database store {name!r} has no dsn and {DSN_ENV} is not set",
                hint=f'add dsn: "${{{DSN_ENV}}}" and set {DSN_ENV}',
                key=True,
                severity=severity,
                code="env",
            )
        )
    if store["min_size"] > store["max_size"]:
        issues.append(
            origin.issue(
                ("min_size",),
                f"min_size {store['min_size']} is above max_size {store['max_size']}",
                code="schema",
            )
        )
    if _written_credentials(origin, "dsn", store):
        issues.append(_literal_secret(origin, ("dsn",), f'"${{{DSN_ENV}}}"'))
    return issues


def _written_credentials(origin: Origin, key: str, decl: Mapping[str, Any]) -> bool:
    """Whether ``decl[key]`` (a DSN, a URL) has a password written in the file itself, in
    any shape (a malformed DSN too), rather than read from ``${VAR}``."""
    value = decl.get(key)
    if not isinstance(value, str):
        return False
    found = origin.doc.env.get((*origin.path, key))
    written = found.raw if found is not None else value
    return any(written_text(secret) for secret in credentials_in(written))


def _env_subpaths(origin: Origin, *, missing_only: bool = False) -> set[DocPath]:
    size = len(origin.path)
    return {
        path[size:]
        for path, found in origin.doc.env.items()
        if path[:size] == origin.path and (found.missing or not missing_only)
    }


def _env_issues(origin: Origin, user: str, *, unused: bool = False) -> list[ConfigIssue]:
    """Unset variables under ``origin``: errors when in use, warnings when nothing uses them."""
    size = len(origin.path)
    issues = []
    for path, found in origin.doc.env.items():
        if path[:size] != origin.path or not found.missing:
            continue
        names = ", ".join(found.missing)
        plural = "s" if len(found.missing) > 1 else ""
        message = f"environment variable{plural} {names} not set ({found.raw}, {user})"
        issues.append(
            origin.doc.issue(
                path,
                message,
                hint=f"set {found.missing[0]}, or give a default: ${{{found.missing[0]}:-...}}",
                severity="warning" if unused else "error",
                code="env",
            )
        )
    return issues


def _mcp_secret_issues(origin: Origin, tool: Mapping[str, Any]) -> list[ConfigIssue]:
    """MCP headers and env variables named like credentials (Authorization, *_TOKEN,
    *_KEY...) whose value is written in the file rather than read from the environment."""
    from_env = _env_subpaths(origin)
    return [
        _literal_secret(origin, (key, var), f'"${{{_SECRET_NAME.sub("_", var).upper()}}}"')
        for key in ("headers", "env")
        for var, value in tool.get(key, {}).items()
        if (key, var) not in from_env and value and _CREDENTIAL.search(var)
    ]


def _literal_secret(origin: Origin, sub: DocPath, instead: str) -> ConfigIssue:
    return origin.issue(
        sub,
        "a secret is written in the file",
        hint=f"read it from the environment instead: {instead}",
        severity="warning",
        code="secret",
    )


__all__ = ["Config", "Origin", "check_config", "expand_paths", "load_config"]
