"""``vel-runner tools [-c agents.yaml] [AGENT] [--format text|json]``: each agent's tools the
way its model will see them.

For each agent (or the one named): every tool with its source (a python function, another
agent, an MCP server and the server's own name for the tool), its description and its
parameters as the model receives them (names after the prefix, ``strict`` when set), and what
the agent lists but the model is not offered, with why. MCP servers are started or reached as
``vel-runner validate --connect`` does (all at once), listed, and closed.

Exit codes: 0 listed, 1 an MCP server could not be used (the rest is still listed), 2 the
config is invalid or cannot be read, or the agent is unknown. Only the standard library at
module level; never imports openai, textual or the server stack.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config.errors import ConfigIssue
    from .config.tool_listing import AgentTools
    from .config.validate import Config


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("agent", nargs="?", metavar="AGENT", help="only this agent's tools")
    parser.add_argument(
        "--config",
        "-c",
        action="append",
        metavar="PATH",
        help="config file or directory, repeatable (env VEL_CONFIG; default ./agents.yaml)",
    )
    parser.add_argument(
        "--format", "-f", choices=("text", "json"), default="text", help="output (default text)"
    )


def run(args: argparse.Namespace) -> int:
    from .config.errors import ConfigError
    from .config.validate import load_config

    env_paths = [p for p in os.environ.get("VEL_CONFIG", "").split(os.pathsep) if p]
    paths = args.config or env_paths or ["agents.yaml"]
    try:
        config = load_config(paths)
    except ConfigError as exc:
        print(f"vel-runner tools: {exc}", file=sys.stderr)
        return 2
    if args.agent is not None and args.agent not in config.agents:
        known = ", ".join(sorted(config.agents)) or "none"
        print(f"vel-runner tools: no agent {args.agent!r} (agents: {known})", file=sys.stderr)
        return 2
    agent_ids = [args.agent] if args.agent is not None else list(config.agents)
    listings, issues, failed = asyncio.run(_list(config, agent_ids))
    for issue in issues:  # servers that cannot be used, allow entries that match nothing...
        print(issue, file=sys.stderr)
    if args.format == "json":
        report: dict[str, Any] = {
            "agents": [listing.as_dict() for listing in listings],
            "issues": [issue.as_dict() for issue in issues],
            "unreachable": failed,
            "exit_code": 1 if failed else 0,
        }
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        from .config.tool_listing import write_text

        write_text(sys.stdout, listings)
    return 1 if failed else 0


async def _list(
    config: Config, agent_ids: list[str]
) -> tuple[list[AgentTools], list[ConfigIssue], list[str]]:
    """Reach the MCP servers the agents use, then list the agents' tools; the issues found
    on the way, and the servers that could not be used."""
    import logging

    from .config.errors import issue_order
    from .config.tool_listing import agent_tools
    from .config.tools_check import connect_issues

    servers = set()
    for agent_id in agent_ids:
        for entry in config.agents[agent_id].get("tools", ()):
            name = entry.partition(".")[0]
            if config.tools.get(name, {}).get("type") == "mcp":
                servers.add(name)
    logging.getLogger("vel_runner.tools.mcp").setLevel(logging.ERROR)  # the listing says it
    reached: dict[str, Any] = {}
    issues = await connect_issues(config, reached, only=servers) if servers else []
    return (
        agent_tools(config, reached, agent_ids),
        sorted(issues, key=issue_order),
        sorted(servers - reached.keys()),
    )


__all__ = ["configure", "run"]
