"""What the schema cannot say, checked across the merged files: references to undeclared
providers and stores, contradictory context settings, TTLs, unset environment variables (an
error where the value is in use, a warning where nothing uses it), a database store without a
DSN, and secrets written in the file instead of read from ``${VAR}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..durations import parse_duration
from ..errors import InvalidInputError
from ..redact import credentials_in
from .errors import ConfigIssue, DocPath, did_you_mean
from .interpolate import written_text
from .model import Config, Origin

DSN_ENV = "POSTGRES_DSN"
#: MCP header and env names that hold credentials (their values belong in the environment).
_CREDENTIAL = re.compile(r"auth|token|key|secret|pass|cookie", re.IGNORECASE)
_SECRET_NAME = re.compile(r"[^A-Za-z0-9_]")


def semantic_issues(config: Config, *, complete: bool = True) -> list[ConfigIssue]:
    """Checks across the merged files. When some file failed to load (``complete=False``),
    references and "no agents" are not judged: the missing part may declare them."""
    issues: list[ConfigIssue] = []
    declared = {"providers": config.providers, "stores": config.stores}
    used: dict[str, dict[str, str]] = {"providers": {}, "stores": {}}
    for origin, agent_id, sub, section, name in _agent_references(config):
        if name in declared[section]:
            if agent_id is not None:
                used[section].setdefault(name, agent_id)
        elif complete and (section, name) not in config.skipped:
            issues.append(_unknown(origin, sub, section[:-1], name, declared[section]))
    for agent_id, agent in config.agents.items():
        origin = config.origins[("agents", agent_id)]
        issues.extend(_context_issues(origin, agent.get("context", {})))
        issues.extend(_ttl_issues(origin, agent))
        issues.extend(_env_issues(origin, f"needed by agent {agent_id!r}"))
    used_providers, used_stores = used["providers"], used["stores"]
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


def _agent_references(config: Config) -> Iterator[tuple[Origin, str | None, DocPath, str, str]]:
    """``(origin, agent id, where, section, name)`` for the provider and the store each agent
    names. Agents left out for schema errors (``agent id`` None) count too, where the name is
    well formed: their schema error and a wrong name show in one run."""
    for agent in config.declarations("agents"):
        for sub, section in ((("model", "provider"), "providers"), (("store",), "stores")):
            name = agent.value(*sub)
            if isinstance(name, str):
                agent_id = agent.value("id") if agent.merged else None
                yield agent.origin, agent_id, sub, section, name


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


__all__ = ["DSN_ENV", "semantic_issues"]
