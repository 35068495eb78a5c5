"""Turn a valid :class:`Config` into providers, stores and agents: a runtime snapshot.

Only what some agent uses is built (an unused database store is never connected to). A
provider or store whose resolved declaration equals the previous snapshot's is reused as the
same instance, so its sessions and connections survive a reload; everything else is new and
listed in :class:`Built` so the caller can open it, or close it if the swap does not happen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..agent import Agent
from ..clock import Clock, utc_now
from ..context import ContextManager, StatelessContextManager
from ..durations import parse_duration
from ..errors import VelError
from ..own_thread import in_own_thread
from ..providers import Provider, create_provider
from ..redact import dsn_secrets, redact, remember_secrets
from ..snapshot import Snapshot
from ..storage import SessionStore, create_store
from .checks import DSN_ENV
from .errors import ConfigError, ConfigIssue
from .model import Config
from .validate import load_config

#: ``wrap(name, provider)``: what a build uses in place of each provider it creates (``name``
#: is its key under ``providers:``). ``vel-runner eval`` puts its cassettes there; a library
#: user can add caching, logging or a fake. A reused provider is not wrapped again.
ProviderWrapper = Callable[[str, Provider], Provider]


@dataclass(slots=True)
class Built:
    """A snapshot and what was created for it (as opposed to reused from the previous one)."""

    snapshot: Snapshot
    config: Config
    new_agents: list[Agent]
    new_providers: dict[str, Provider]
    new_stores: dict[str, SessionStore]
    #: MCP servers (not yet connected) this build created; reused ones keep their connection.
    new_tool_sources: dict[str, Any] = field(default_factory=dict)

    def store_error(self, name: str, exc: BaseException) -> ConfigError:
        """A store that would not open, as a config error at its declaration (no secrets)."""
        dsn = self.config.stores.get(name, {}).get("dsn") or self.config.environ.get(DSN_ENV, "")
        text = redact(str(exc), [dsn, *dsn_secrets(dsn)])
        message = f"store {name!r} could not be opened: {type(exc).__name__}: {text}"
        return ConfigError([self.config.issue("stores", name, message, code="store")])


async def build_snapshot(
    paths: Sequence[Path],
    previous: Snapshot | None = None,
    *,
    clock: Clock = utc_now,
    wrap_provider: ProviderWrapper | None = None,
) -> Built:
    """Read ``paths`` (in a thread of its own: file I/O stays off the event loop, and a
    reload never waits behind whatever holds asyncio's default executor) and build them."""
    config = await in_own_thread(load_config, paths, name="config-reload")
    return build(config, previous, clock=clock, wrap_provider=wrap_provider)


def build(
    config: Config,
    previous: Snapshot | None = None,
    *,
    clock: Clock = utc_now,
    wrap_provider: ProviderWrapper | None = None,
) -> Built:
    """Providers, stores and agents for ``config``, reusing unchanged ones from ``previous``;
    each new provider goes through ``wrap_provider`` when one is given."""
    old_decls = previous.declarations if previous is not None else {}
    declarations: dict[tuple[str, str], Any] = {}
    providers: dict[str, Provider] = {}
    stores: dict[str, SessionStore] = {}
    new_providers: dict[str, Provider] = {}
    new_stores: dict[str, SessionStore] = {}
    agents: dict[str, Agent] = {}
    tool_sources: dict[str, Any] = {}
    new_tool_sources: dict[str, Any] = {}
    issues: list[ConfigIssue] = []

    def pick(section: str, name: str, decl: Any, make: Any, pool: dict[str, Any],
             created: dict[str, Any], *extra: Any) -> Any:  # fmt: skip
        """The instance ``name`` of ``section``: the previous snapshot's if its declaration is
        unchanged (a pool, a connected MCP server...), else a new one (listed in ``created``)."""
        if name not in pool:
            pool[name] = _reuse_or_make(
                previous, old_decls, section, name, decl, make, created, *extra
            )
            declarations[(section, name)] = decl
        return pool[name]

    def make_provider(name: str, decl: Mapping[str, Any]) -> Provider:
        provider = _make_provider(name, decl)
        return provider if wrap_provider is None else wrap_provider(name, provider)

    def mcp_source(name: str) -> Any:
        return pick(
            "tool_sources", name, config.tools[name], _make_mcp_source, tool_sources,
            new_tool_sources,
        )  # fmt: skip

    for agent_id in tool_order(config):
        decl = config.agents[agent_id]
        provider_name, store_name = decl["model"]["provider"], decl["store"]
        pick(
            "providers", provider_name, config.providers[provider_name], make_provider,
            providers, new_providers,
        )  # fmt: skip
        pick(
            "stores", store_name, config.stores[store_name], make_store, stores, new_stores,
            config.environ, clock,
        )  # fmt: skip
        try:
            agents[agent_id] = _make_agent(
                decl, providers[provider_name], stores[store_name], config.stores[store_name],
                _agent_tools(config, decl, agents, mcp_source),
            )  # fmt: skip
        except VelError as exc:
            issues.append(config.issue("agents", agent_id, f"agent {agent_id!r}: {exc}"))
            continue
        if previous is not None and agent_id in previous.agents:  # counts outlive reloads
            agents[agent_id].toolbox.tally = previous.agents[agent_id].toolbox.tally
    snapshot = Snapshot(
        agents=MappingProxyType(agents),
        stores=MappingProxyType(stores),
        version=config.version,
        loaded_at=clock(),
        files=list(config.files),
        providers=MappingProxyType(providers),
        declarations=MappingProxyType(declarations),
        tool_sources=MappingProxyType(tool_sources),
    )
    built = Built(
        snapshot, config, list(agents.values()), new_providers, new_stores, new_tool_sources
    )
    if issues:
        raise ConfigError(issues)
    return built


def _reuse_or_make(
    previous: Snapshot | None,
    old_decls: Mapping[tuple[str, str], Any],
    section: str,
    name: str,
    decl: Mapping[str, Any],
    make: Any,
    created: dict[str, Any],
    *extra: Any,
) -> Any:
    if previous is not None and old_decls.get((section, name)) == decl:
        pool: Mapping[str, Any] = getattr(previous, section)
        if name in pool:
            return pool[name]
    created[name] = instance = make(name, decl, *extra)
    return instance


def _make_provider(name: str, decl: Mapping[str, Any]) -> Provider:
    options = {key: value for key, value in decl.items() if key != "type"}
    return create_provider(decl["type"], **options)


def make_store(
    name: str, decl: Mapping[str, Any], environ: Mapping[str, str], clock: Clock = utc_now
) -> SessionStore:
    """The store of a resolved ``stores:`` declaration (not opened: nothing is connected)."""
    if decl["type"] == "memory":
        limits = {k: decl[k] for k in ("max_sessions",) if k in decl}
        return create_store("memory", name=name, clock=clock, **limits)
    options = {key: decl[key] for key in ("min_size", "max_size", "timeout") if key in decl}
    dsn = decl.get("dsn") or environ.get(DSN_ENV, "")
    remember_secrets(dsn_secrets(dsn))  # hidden in every error, a tool's included
    return create_store(decl["type"], dsn=dsn, name=name, **options)


def _make_mcp_source(name: str, decl: Mapping[str, Any]) -> Any:
    from ..tools.mcp_source import MCPSource

    source = MCPSource(name, decl)
    remember_secrets(source.connection.secrets())
    return source


def make_context_manager(context: Mapping[str, Any]) -> ContextManager:
    """The spec's context manager for a ``context:`` block (mode names from the schema)."""
    mode = context["mode"]
    if mode == "stateless":
        return StatelessContextManager()
    if mode == "full":
        return ContextManager()
    return ContextManager(max_history=context["max_history"], summarize=mode == "summarize")


def tool_order(config: Config) -> list[str]:
    """Agent ids with every agent after the agents it calls as tools (validation has ruled
    out cycles), otherwise in declaration order."""
    order: list[str] = []
    placed: set[str] = set()

    def place(agent_id: str, trail: frozenset[str]) -> None:
        if agent_id in placed or agent_id in trail or agent_id not in config.agents:
            return
        for tool in config.agents[agent_id].get("tools", ()):
            decl = config.tools.get(tool)
            if decl is not None and decl["type"] == "agent":
                place(decl["agent"], trail | {agent_id})
        placed.add(agent_id)
        order.append(agent_id)

    for agent_id in config.agents:
        place(agent_id, frozenset())
    return order


def _agent_tools(
    config: Config,
    decl: Mapping[str, Any],
    built: Mapping[str, Agent],
    mcp_source: Callable[[str], Any],
) -> list[Any]:
    """The tool sources of an agent: the python tools validation built, agent tools on the
    agents built before this one, and MCP servers (shared by the agents that use them)."""
    from ..tools import AgentTool

    sources: list[Any] = []
    picked: dict[str, list[str]] = {}  # MCP server -> the tools listed as server.tool
    for name in decl.get("tools", ()):
        server, dot, tool_name = name.partition(".")
        if dot:
            picked.setdefault(server, []).append(tool_name)
            continue
        tool = config.tools[name]
        if tool["type"] == "mcp":
            sources.append(mcp_source(name))
        elif tool["type"] == "python":
            sources.append(config.function_tools[name])
        else:
            sources.append(
                AgentTool(
                    built[tool["agent"]],
                    name=name,
                    description=tool.get("description"),
                    timeout=parse_duration(tool["timeout"]),
                    max_result_chars=tool.get("max_result_chars"),
                )
            )
    if picked:
        from ..tools.mcp_source import MCPToolView

        whole = {id(source) for source in sources}
        for server, names in picked.items():
            source = mcp_source(server)
            if id(source) not in whole:  # the whole server already covers these tools
                sources.append(MCPToolView(source, names))
    return sources


def _make_agent(
    decl: Mapping[str, Any],
    provider: Provider,
    store: SessionStore,
    store_decl: Mapping[str, Any],
    tools: list[Any],
) -> Agent:
    ttl_source = decl["ttl"] if "ttl" in decl else store_decl.get("ttl")
    return Agent(
        decl["id"],
        model={"provider": decl["model"]["provider"], "model": decl["model"]["model"]},
        session_storage=store,
        context_manager=make_context_manager(decl["context"]),
        instructions=decl.get("instructions"),
        generation=decl.get("generation"),
        ttl=parse_duration(ttl_source) if ttl_source is not None else None,
        provider=provider,
        tools=tools,
        max_steps=decl.get("max_steps", 10),
        parallel_tool_calls=decl.get("parallel_tool_calls", True),
        tool_concurrency=decl.get("tool_concurrency", 4),
        max_result_chars=decl["max_result_chars"],
    )


__all__ = [
    "Built",
    "ProviderWrapper",
    "build",
    "build_snapshot",
    "make_context_manager",
    "make_store",
]
