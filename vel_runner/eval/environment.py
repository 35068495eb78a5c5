"""The runtime a set of cases runs on, built from the config for an eval.

Everything is the config's (providers, tools, MCP servers, context modes, instructions) but
two things. The sessions live in memory for the run, whatever the store, so an eval never
touches a database (``--replay`` touches no network at all) and every run starts clean. And
only the agents the cases use are built (with the agents they call as tools), so a run of
offline cases neither imports an SDK nor starts the MCP servers of agents it does not test.
With cassettes, each online provider is wrapped (:mod:`.cassette_provider`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from ..config.build import ProviderWrapper, build
from ..config.validate import Config
from ..redact import credentials_in
from ..runtime import Runtime

#: Environment variables whose values are kept out of cassettes (by their names).
_CREDENTIAL_NAME = re.compile(r"key|token|secret|pass|auth|cookie|credential|dsn", re.IGNORECASE)
#: Shorter values are not treated as secrets (see :func:`config_secrets`).
MIN_SECRET = 8


def eval_config(config: Config, agent_ids: Iterable[str]) -> Config:
    """``config`` with only the agents ``agent_ids`` (and those they call as tools, all the
    way down), every store a memory store (its ``ttl`` kept)."""
    wanted: set[str] = set()
    pending = [a for a in agent_ids if a in config.agents]
    while pending:
        agent_id = pending.pop()
        if agent_id in wanted:
            continue
        wanted.add(agent_id)
        for tool in config.agents[agent_id].get("tools", ()):
            decl = config.tools.get(tool, {})
            if decl.get("type") == "agent":
                pending.append(decl["agent"])
    stores: dict[str, dict[str, Any]] = {
        name: {"type": "memory", **({"ttl": decl["ttl"]} if "ttl" in decl else {})}
        for name, decl in config.stores.items()
    }
    agents = {k: v for k, v in config.agents.items() if k in wanted}
    return dataclasses.replace(config, stores=stores, agents=agents)


def eval_runtime(
    config: Config, agent_ids: Iterable[str], wrap_provider: ProviderWrapper | None = None
) -> Runtime:
    """A runtime for the agents ``agent_ids`` of ``config``, sessions in memory (not started:
    ``async with`` it). Raises :class:`~vel_runner.config.errors.ConfigError` when an agent
    cannot be built."""
    built = build(eval_config(config, agent_ids), wrap_provider=wrap_provider)
    return Runtime(built.snapshot, wrap_provider=wrap_provider)


def config_secrets(config: Config) -> list[str]:
    """What must never be written to a cassette: provider keys, credentials in URLs and
    DSNs, MCP credential headers and variables, and the values of the credential-named
    environment variables the config reads (and ``OPENAI_API_KEY``, which the SDK reads).

    Values shorter than :data:`MIN_SECRET` are left out: a default such as ``unused`` is no
    secret, and masking it on one machine but not another would change request keys.
    """
    found: list[str] = []
    for provider in config.providers.values():
        found.append(str(provider.get("api_key") or ""))
        found.extend(credentials_in(str(provider.get("base_url") or "")))
    for store in config.stores.values():
        dsn = str(store.get("dsn") or "")
        found.extend([dsn, *credentials_in(dsn)])
    for tool in config.tools.values():
        for key in ("headers", "env"):
            found.extend(str(v) for k, v in tool.get(key, {}).items() if _CREDENTIAL_NAME.search(k))
    names = {"OPENAI_API_KEY"}
    for doc in {id(o.doc): o.doc for o in config.origins.values()}.values():
        names.update(name for found_env in doc.env.values() for name in found_env.names)
    found.extend(config.environ.get(n, "") for n in names if _CREDENTIAL_NAME.search(n))
    return sorted({s for s in found if len(s) >= MIN_SECRET}, key=len, reverse=True)


__all__ = ["config_secrets", "eval_config", "eval_runtime"]
