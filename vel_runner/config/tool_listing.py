"""Each agent's tools the way its model will see them: for ``vel-runner tools`` and for
``vel-runner validate --connect`` once the config is valid.

A tool is listed with where it comes from (a python function, another agent, an MCP server and
the server's own name for it), its description and its parameters exactly as a chat
completions request carries them (the name after the prefix, ``strict`` when it is set). What
the model is not offered is listed too, with why: a tool an MCP server runs only as a task, a
name models refuse, a name an earlier tool of the agent already took.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, TextIO

from ..durations import parse_duration
from .tools_check import Config


@dataclass(frozen=True, slots=True)
class ListedTool:
    """One tool of an agent: where it comes from and what the model receives."""

    source: dict[str, Any]
    function: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, **self.function}


@dataclass(slots=True)
class AgentTools:
    """An agent's tools, and what it lists that the model is not offered (and why)."""

    agent: str
    tools: list[ListedTool] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "tools": [tool.as_dict() for tool in self.tools],
            "left_out": self.left_out,
        }


def agent_tools(config: Config, reached: Mapping[str, Any], agent_ids: Iterable[str]) -> list[
    AgentTools
]:  # fmt: skip
    """The tools of each of ``agent_ids``; ``reached`` holds the MCP servers that answered
    (by name), listed."""
    return [_one_agent(config, reached, agent_id) for agent_id in agent_ids]


def _one_agent(config: Config, reached: Mapping[str, Any], agent_id: str) -> AgentTools:
    from ..tools import AgentTool

    listing = AgentTools(agent_id)
    taken: dict[str, str] = {}
    explained: set[str] = set()
    for entry in config.agents[agent_id].get("tools", ()):
        server, dot, only = entry.partition(".")
        name = server if dot else entry
        decl = config.tools[name]
        found: list[tuple[dict[str, Any], Any]] = []
        if decl["type"] == "mcp":
            source = reached.get(name)
            if source is None:
                listing.left_out.append(f"{entry}: MCP server {name!r} could not be reached")
                continue
            for spec in source.list_tools():
                if dot and spec.name != source.prefix + only:
                    continue
                origin = {"type": "mcp", "server": name, "transport": source.transport}
                found.append(({**origin, "tool": source.server_name(spec.name)}, spec))
            if name not in explained:
                explained.add(name)
                for tool, why in sorted(source.left_out.items()):
                    if not dot or tool == only:
                        listing.left_out.append(f"{name}.{tool}: {why}")
        elif decl["type"] == "python":
            origin = {"type": "python", "function": decl["function"]}
            found.extend((origin, spec) for spec in config.function_tools[name].list_tools())
        else:
            tool = AgentTool(
                SimpleNamespace(id=decl["agent"]),  # its spec needs only the agent's id
                name=name,
                description=decl.get("description"),
                timeout=parse_duration(decl["timeout"]),
            )
            found.append(({"type": "agent", "agent": decl["agent"]}, tool.spec))
        for origin, spec in found:
            if spec.name in taken:
                listing.left_out.append(
                    f"{entry}: its tool {spec.name!r} has the name {taken[spec.name]!r} "
                    "already gives the model (the first one wins)"
                )
                continue
            taken[spec.name] = entry
            listing.tools.append(ListedTool(origin, spec.openai()["function"]))
    return listing


def describe_source(source: Mapping[str, Any]) -> str:
    """Where a tool comes from, in words."""
    if source["type"] == "python":
        return f"python function {source['function']}"
    if source["type"] == "agent":
        return f"agent {source['agent']}"
    return f"MCP server {source['server']} ({source['transport']}), its tool {source['tool']!r}"


def write_text(out: TextIO, listings: Iterable[AgentTools]) -> None:
    """The listing for people: per agent, each tool with its source, description and schema."""
    for listing in listings:
        count = len(listing.tools)
        out.write(f"agent {listing.agent}: {count} tool{'s' * (count != 1)}\n")
        for tool in listing.tools:
            function = tool.function
            strict = " (strict)" if function.get("strict") else ""
            out.write(f"  {function['name']}  <- {describe_source(tool.source)}\n")
            if function.get("description"):
                out.write(f"      {_one_line(function['description'])}\n")
            parameters = json.dumps(function["parameters"], ensure_ascii=False)
            out.write(f"      parameters{strict}: {parameters}\n")
        for why in listing.left_out:
            out.write(f"  not offered: {why}\n")


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


__all__ = ["AgentTools", "ListedTool", "agent_tools", "describe_source", "write_text"]
