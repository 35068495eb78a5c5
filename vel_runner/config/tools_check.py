"""The checks of the ``tools:`` section and of the agents' ``tools`` lists, for ``vel-runner
validate`` and every (re)load: each python tool is imported and its schema built (a module that
does not import, a missing attribute, a parameter without a type hint, a schema OpenAI's strict
mode refuses), every name an agent lists is declared, and no agent reaches itself through
agent tools. Issues point at the YAML line of the key at fault.

The function tools built here are kept on the config (``Config.function_tools``), so building
the runtime does not import and inspect them a second time.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..durations import parse_duration
from ..errors import InvalidInputError
from .errors import ConfigIssue, did_you_mean
from .model import Config, Origin

TYPE_HINT = "give every parameter a type hint, e.g. def get_weather(city: str) -> dict"


def tool_issues(config: Config, *, complete: bool = True, build: bool = True) -> list[ConfigIssue]:
    """Every problem with the declared tools and the agents' references to them.

    ``build=False`` (``vel-runner validate``) skips building the function tools whose
    parameters are all plain types: their schema always fits strict mode, and the check then
    needs no pydantic."""
    issues: list[ConfigIssue] = []
    for name, decl in config.tools.items():
        origin = config.origin("tools", name)
        if decl["type"] == "python":
            issues.extend(_python_issues(config, name, decl, origin, build=build))
        elif decl["type"] == "mcp":
            issues.extend(mcp_issues(name, decl, origin))
    if complete:
        issues.extend(_reference_issues(config))
    issues.extend(_cycle_issues(config))
    return issues


def _reference_issues(config: Config) -> list[ConfigIssue]:
    """Names that point nowhere: an agent tool's agent, an agent's tools. Declarations left
    out for schema errors count too, where the name is well formed, so their schema error and
    a wrong name show in one run."""
    issues: list[ConfigIssue] = []
    agent_ids = sorted(config.agent_ids)
    for tool in config.declarations("tools"):
        target = tool.value("agent")
        if tool.value("type") != "agent" or not isinstance(target, str) or target in agent_ids:
            continue
        issues.append(
            tool.origin.issue(
                ("agent",),
                f"tool {tool.origin.path[-1]!r} calls agent {target!r}, which is not declared",
                hint=did_you_mean(target, agent_ids, "declared agents")
                or "agent must be the id of an agent of this config",
                code="reference",
            )
        )
    for agent in config.declarations("agents"):
        listed = agent.written("tools")
        for index in range(len(listed) if isinstance(listed, list) else 0):
            name = agent.value("tools", index)
            if isinstance(name, str) and _undeclared_tool(config, name):
                issues.append(
                    agent.origin.issue(
                        ("tools", index),
                        f"tool {name!r} is not declared",
                        hint=did_you_mean(name, sorted(config.tools), "declared tools")
                        or "declare it under tools: (type python, agent or mcp)",
                        code="reference",
                    )
                )
    return issues


def _undeclared_tool(config: Config, name: str) -> bool:
    """Whether ``name`` (a tool, or ``server.tool`` of an MCP server) names nothing declared;
    names of declarations with schema errors are not judged (the error is reported there)."""
    server, dot, _ = name.partition(".")
    if dot and ("tools", server) in config.skipped:
        return False
    if dot and server in config.tools and config.tools[server]["type"] == "mcp":
        return False  # one tool of an MCP server: ``validate --connect`` checks it exists
    return name not in config.tools and ("tools", name) not in config.skipped


def mcp_issues(name: str, decl: Mapping[str, Any], origin: Origin) -> list[ConfigIssue]:
    """An MCP server's declaration, offline: timeouts, keys of the other transport, and a
    warning when nothing limits which tools the agents see."""
    issues = []
    if ("url" in decl) == ("command" in decl):
        issues.append(
            origin.issue(
                (),
                f"MCP server {name!r} needs exactly one of url (streamable HTTP) and command "
                "(a subprocess over stdio)",
                hint="url: https://host/mcp/, or command: npx with args: [...]",
                key=True,
                code="schema",
            )
        )
    for key in ("timeout", "connect_timeout"):
        try:
            positive = parse_duration(decl[key]) > 0
        except InvalidInputError as exc:
            issues.append(origin.issue((key,), str(exc), code="schema"))
            continue
        if not positive:
            issues.append(origin.issue((key,), f"{key} must be greater than 0", code="schema"))
    stdio_only = (
        "url" in decl
        and "command" not in decl
        and [k for k in ("args", "env", "cwd") if decl.get(k)]
    )
    for key in stdio_only or ():
        issues.append(
            origin.issue(
                (key,), f"{key} is for a server started by command, not one at a url", code="schema"
            )
        )
    if "command" in decl and "url" not in decl and "headers" in decl:
        issues.append(
            origin.issue(("headers",), "headers are for a server at a url", code="schema")
        )
    if importlib.util.find_spec("mcp") is None:  # finds, does not import: validate stays fast
        issues.append(
            origin.issue(
                ("type",),
                f"MCP server {name!r} needs the mcp package, which is not installed",
                hint="pip install 'vel-runner[mcp]'",
                severity="warning",
                code="tool",
            )
        )
    if "allow" not in decl:
        issues.append(
            origin.issue(
                (),
                f"MCP server {name!r} has no allow list: the agents see every tool it lists, "
                "and that list can change under you",
                hint='list the tools the agents need: allow: [search_issues, "list_*"]',
                key=True,
                severity="warning",
                code="tool",
            )
        )
    return issues


async def connect_issues(
    config: Config, reached: dict[str, Any] | None = None, only: set[str] | None = None
) -> list[ConfigIssue]:
    """``validate --connect``: start or reach each MCP server (all at once; ``only``: these),
    list its tools, and report a server that cannot be used, allow/deny entries that match
    none of its tools, and agents that list ``server.tool`` for a tool the server does not
    expose. The servers that answered go into ``reached`` (by name), listed and closed."""
    import asyncio

    from ..tools.base import ToolCallError
    from ..tools.mcp_source import MCPSource, matches

    sources = {
        name: MCPSource(name, decl)
        for name, decl in config.tools.items()
        if decl["type"] == "mcp" and (only is None or name in only)
    }
    outcomes = await asyncio.gather(
        *(source.connect_once() for source in sources.values()), return_exceptions=True
    )
    issues: list[ConfigIssue] = []
    reached = {} if reached is None else reached
    for (name, source), outcome in zip(sources.items(), outcomes, strict=True):
        origin = config.origin("tools", name)
        if isinstance(outcome, ToolCallError):
            issues.append(
                origin.issue(
                    (), f"MCP server {name!r} cannot be used: {outcome}", key=True, code="connect"
                )
            )
            continue
        if isinstance(outcome, BaseException):
            raise outcome
        reached[name] = source
        for key in ("allow", "deny"):
            for index, pattern in enumerate(config.tools[name].get(key, ())):
                if not any(matches(tool, [pattern]) for tool in source.listed):
                    issues.append(
                        origin.issue(
                            (key, index),
                            f"{key} entry {pattern!r} matches none of the tools of {name!r}",
                            hint=f"its tools: {', '.join(sorted(source.listed)) or 'none'}",
                            severity="warning",
                            code="connect",
                        )
                    )
    for agent_id, agent in config.agents.items():
        issues.extend(_clashes(config, agent_id, reached))
        for index, tool in enumerate(agent.get("tools", ())):
            server, dot, tool_name = tool.partition(".")
            found = reached.get(server) if dot else None
            if found is None or found.prefix + tool_name in {s.name for s in found.list_tools()}:
                continue
            exposed = sorted(s.name.removeprefix(found.prefix) for s in found.list_tools())
            issues.append(
                config.origin("agents", agent_id).issue(
                    ("tools", index),
                    f"MCP server {server!r} does not expose a tool {tool_name!r}",
                    hint=f"it exposes: {', '.join(exposed) or 'nothing'} (after allow and deny)",
                    code="connect",
                )
            )
    return issues


def _clashes(config: Config, agent_id: str, reached: Mapping[str, Any]) -> list[ConfigIssue]:
    """Two tools of one agent that the model would see under the same name."""
    seen: dict[str, str] = {}
    issues = []
    for index, entry in enumerate(config.agents[agent_id].get("tools", ())):
        server, dot, tool_name = entry.partition(".")
        source = reached.get(server)
        if source is not None:
            exposed = [spec.name for spec in source.list_tools()]
            names = [n for n in exposed if n == source.prefix + tool_name] if dot else exposed
        elif dot or config.tools.get(entry, {}).get("type") == "mcp":
            names = []  # a server that could not be reached: reported on its own
        else:
            names = [entry]  # a python or agent tool: the model sees its key
        for name in names:
            if name in seen:
                issues.append(
                    config.origin("agents", agent_id).issue(
                        ("tools", index),
                        f"{entry!r} gives the model a tool {name!r}, as {seen[name]!r} does",
                        hint="give the MCP server a prefix, or deny one of the tools",
                        code="connect",
                    )
                )
            seen.setdefault(name, entry)
    return issues


def _python_issues(
    config: Config, name: str, decl: Mapping[str, Any], origin: Origin, *, build: bool
) -> list[ConfigIssue]:
    from ..tools.base import ToolDefinitionError
    from ..tools.python import FunctionTool, import_function
    from ..tools.signature import read_signature

    try:
        timeout = parse_duration(decl["timeout"])
    except InvalidInputError as exc:
        return [origin.issue(("timeout",), str(exc), code="schema")]
    if timeout <= 0:
        return [origin.issue(("timeout",), "timeout must be greater than 0", code="schema")]
    folder = str(Path(origin.file).resolve().parent)
    try:
        func = import_function(decl["function"], [folder])
        signature = read_signature(func, name=name, bind=decl.get("bind"))
        if not build and signature.is_plain():
            return []
        tool = FunctionTool(
            func,
            name=name,
            description=decl.get("description"),
            timeout=timeout,
            bind=decl.get("bind"),
            max_result_chars=decl.get("max_result_chars"),
        )
    except ToolDefinitionError as exc:
        text = str(exc)
        if "does not import" in text:
            hint = f"the module is looked up in {folder} and on sys.path"
        elif "has no type hint" in text:
            hint = TYPE_HINT
        elif "strict mode" in text:
            hint = "use str, int, float, bool, lists, enums or pydantic models with named fields"
        elif exc.part == "bind":
            hint = "bind may only name parameters of the function"
        else:
            hint = "function is module:attribute, e.g. myapp.tools:get_weather"
        return [origin.issue((exc.part,), f"tool {name!r}: {text}", hint=hint, code="tool")]
    config.function_tools[name] = tool
    return []


def _cycle_issues(config: Config) -> list[ConfigIssue]:
    """An agent that reaches itself through agent tools (directly or in a cycle)."""
    calls: dict[str, list[tuple[int, str, str]]] = {}
    for agent_id, agent in config.agents.items():
        for index, tool in enumerate(agent.get("tools", ())):
            decl = config.tools.get(tool)
            if decl is not None and decl["type"] == "agent" and decl["agent"] in config.agents:
                calls.setdefault(agent_id, []).append((index, tool, decl["agent"]))
    issues: list[ConfigIssue] = []
    for agent_id in config.agents:
        for index, tool, target in calls.get(agent_id, ()):
            path = _path_back(calls, target, agent_id)
            if path is None:
                continue
            chain = " -> ".join([agent_id, *path])
            what = "calls itself" if target == agent_id else f"reaches itself ({chain})"
            issues.append(
                config.origin("agents", agent_id).issue(
                    ("tools", index),
                    f"agent {agent_id!r} {what} through tool {tool!r}",
                    hint="an agent tool must not lead back to the agent that calls it",
                    code="cycle",
                )
            )
    return issues


def _path_back(
    calls: Mapping[str, list[tuple[int, str, str]]], start: str, goal: str
) -> list[str] | None:
    """The agents from ``start`` to ``goal`` along agent tools, or ``None``."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        if node == goal:
            return path
        if node in seen:
            continue
        seen.add(node)
        stack.extend((target, [*path, target]) for _, _, target in calls.get(node, ()))
    return None


__all__ = ["connect_issues", "mcp_issues", "tool_issues"]
