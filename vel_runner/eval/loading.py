"""Find and load ``*.eval.yaml`` files, with every problem at its line, as ``validate`` does.

A file is read by the config loader (positions for every value; values as written, no
``${VAR}``), checked against ``schema/eval.schema.json``, then against the config it runs
on: agents and judges that exist, tools the agent has (``stub_tools``, ``tool_calls``),
regular expressions that compile, case names unique in their file. Problems are
:class:`~vel_runner.config.errors.ConfigIssue` objects, so the command prints them exactly as
``vel-runner validate`` prints a config's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..config.errors import ConfigError, ConfigIssue, DocPath, did_you_mean, issue_order
from ..config.loader import Document, load_document
from ..config.schema_check import schema_issues
from ..config.validate import Config
from .spec import Case, EvalFile, Expect, ExpectedCall, Judge, Turn

EVAL_SUFFIXES = (".eval.yaml", ".eval.yml")
#: Where the eval files of a config live by default: this folder beside it.
DEFAULT_FOLDER = "evals"
CASSETTE_FOLDER = "cassettes"


def default_eval_paths(config_paths: Sequence[str | Path]) -> list[Path]:
    """``evals/`` beside the first config file (inside it, when it is a directory)."""
    first = Path(config_paths[0]) if config_paths else Path("agents.yaml")
    base = first if first.is_dir() else first.parent
    return [base / DEFAULT_FOLDER]


def is_eval_file(path: Path) -> bool:
    return path.name.endswith(EVAL_SUFFIXES)


def find_eval_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[ConfigIssue]]:
    """The files to run: each file as given, each directory's ``*.eval.yaml`` (recursively,
    sorted); a path that is neither is an issue (an I/O error, exit 2)."""
    files: list[Path] = []
    issues: list[ConfigIssue] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if is_eval_file(p) and p.is_file())
            if not found:
                message = "no *.eval.yaml files in this directory"
                issues.append(ConfigIssue(str(path), 1, 1, "<root>", message, code="io"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            issues.append(ConfigIssue(str(path), 1, 1, "<root>", "file not found", code="io"))
    unique = list(dict.fromkeys(files))
    return unique, issues


def load_eval_files(
    files: Sequence[Path], config: Config
) -> tuple[list[EvalFile], list[ConfigIssue]]:
    """Every file loaded, and every issue of every file (errors and warnings)."""
    loaded: list[EvalFile] = []
    issues: list[ConfigIssue] = []
    cassettes: dict[Path, Path] = {}
    for path in files:
        found, file_issues = load_eval_file(path, config, cassettes)
        issues.extend(file_issues)
        if found is not None:
            loaded.append(found)
    return loaded, issues


def load_eval_file(
    path: Path, config: Config, cassettes: dict[Path, Path] | None = None
) -> tuple[EvalFile | None, list[ConfigIssue]]:
    """The file's cases (``None`` when it has errors) and its issues. ``cassettes`` (the
    cassette of each file loaded before, by resolved path) catches two files sharing one."""
    try:
        doc = load_document(path, interpolate=False)
    except ConfigError as exc:
        return None, exc.issues
    issues = schema_issues(doc, schema="eval")
    if issues:
        return None, issues
    checker = _Checker(doc, config)
    cases = checker.cases()
    checker.issues.sort(key=issue_order)
    if any(issue.severity == "error" for issue in checker.issues):
        return None, checker.issues
    cassette = doc.data.get("cassette")
    stem = path.name.removesuffix(".yaml").removesuffix(".yml").removesuffix(".eval")
    where = path.parent / cassette if cassette else path.parent / CASSETTE_FOLDER / f"{stem}.jsonl"
    if cassettes is not None:
        owner = cassettes.setdefault(where.resolve(), path)
        if owner != path:
            message = f"{owner} records to the same cassette, {where}"
            hint = "give one of them another cassette: (each file's cases are kept apart)"
            return None, [*checker.issues, doc.issue(("cassette",), message, hint=hint)]
    return EvalFile(path, tuple(cases), where), checker.issues


def agent_tool_names(config: Config, agent_id: str) -> list[str] | None:
    """The tool names an agent offers, known without connecting anything (``None``: it uses
    an MCP server, whose tools are known only once connected)."""
    names: list[str] = []
    for entry in config.agents[agent_id].get("tools", ()):
        if "." in entry or config.tools.get(entry, {}).get("type") == "mcp":
            return None
        names.append(entry)
    return names


class _Checker:
    """Builds the cases of one schema-valid document, collecting what the config refutes."""

    def __init__(self, doc: Document, config: Config) -> None:
        self.doc = doc
        self.config = config
        self.data: dict[str, Any] = doc.data
        self.issues: list[ConfigIssue] = []
        self.file_stubs: dict[str, Any] = dict(self.data.get("stub_tools", {}))
        self.agent_ok = self._known_agent(self.data.get("agent"), ("agent",))
        self._known_agent(self.data.get("judge"), ("judge",))
        #: The tools of the file's agents (``None`` when some are known only online).
        self.all_tools: set[str] | None = set()

    def issue(self, path: DocPath, message: str, **kw: Any) -> None:
        self.issues.append(self.doc.issue(path, message, **kw))

    def _known_agent(self, agent_id: str | None, path: DocPath) -> bool:
        if agent_id is None or agent_id in self.config.agents:
            return agent_id is not None
        self.issue(
            path,
            f"agent {agent_id!r} is not declared in {', '.join(self.config.files)}",
            hint=did_you_mean(agent_id, sorted(self.config.agents), "agents"),
            code="reference",
        )
        return False

    def cases(self) -> list[Case]:
        cases: list[Case] = []
        first_line: dict[str, int] = {}
        for index, raw in enumerate(self.data["cases"]):
            path: DocPath = ("cases", index)
            name = raw["name"]
            if name in first_line:
                self.issue(
                    (*path, "name"),
                    f"duplicate case name {name!r} (first at line {first_line[name]})",
                    hint="reports and cassettes name a case by its name: keep names unique",
                    code="duplicate",
                )
                continue
            first_line[name] = self.doc.where(path)[0]
            case = self._case(index, raw)
            if case is not None:
                cases.append(case)
        for name in self.file_stubs:  # a tool of one of the file's agents, at least
            tools = None if self.all_tools is None else sorted(self.all_tools)
            message = f"no agent of this file has a tool {name!r}"
            self._check_tool(name, tools, ("stub_tools", name), message, key=True)
        return cases

    def _case(self, index: int, raw: Mapping[str, Any]) -> Case | None:
        path: DocPath = ("cases", index)
        agent = raw.get("agent")
        if agent is None:
            if "agent" not in self.data:
                self.issue(
                    path,
                    f"case {raw['name']!r} names no agent",
                    hint="give the case an agent: (or the file a top-level agent:)",
                    code="reference",
                )
            if not self.agent_ok:
                return None
            agent = self.data["agent"]
        elif not self._known_agent(agent, (*path, "agent")):
            return None
        tools = agent_tool_names(self.config, agent)
        if tools is None or self.all_tools is None:
            self.all_tools = None
        else:
            self.all_tools.update(tools)
        stubs = {**self.file_stubs, **raw.get("stub_tools", {})}
        for name in raw.get("stub_tools", {}):
            message = f"agent {agent!r} has no tool {name!r}"
            self._check_tool(name, tools, (*path, "stub_tools", name), message, key=True)
        session = raw.get("session")
        if session is not None and self.config.agents[agent]["context"]["mode"] == "stateless":
            self.issue(
                (*path, "session"),
                f"agent {agent!r} is stateless: a session has no effect",
                severity="warning",
                code="session",
            )
        turns = [
            self._turn(number, turn, agent, tools, (*path, "turns", number - 1))
            for number, turn in enumerate(raw["turns"], start=1)
        ]
        return Case(
            file=self.doc.file,
            index=index,
            name=raw["name"],
            agent=agent,
            turns=tuple(turns),
            line=self.doc.where(path)[0],
            session=session,
            repeat=raw.get("repeat", 1),
            pass_rate=float(raw.get("pass_rate", 1.0)),
            stream=raw.get("stream", self.data.get("stream", False)),
            stub_tools=stubs,
        )

    def _check_tool(
        self, name: str, tools: list[str] | None, path: DocPath, message: str, *, key: bool = False
    ) -> None:
        if tools is None or name in tools:
            return
        self.issue(
            path,
            message,
            hint=did_you_mean(name, tools, "its tools") or "it has no tools",
            key=key,
            code="reference",
        )

    def _turn(
        self,
        number: int,
        raw: Mapping[str, Any],
        agent: str,
        tools: list[str] | None,
        path: DocPath,
    ) -> Turn:
        expect = raw.get("expect", {})
        where: DocPath = (*path, "expect")
        calls = []
        for position, call in enumerate(expect.get("tool_calls", ())):
            at = (*where, "tool_calls", position, "name")
            self._check_tool(
                call["name"], tools, at, f"agent {agent!r} has no tool {call['name']!r}"
            )
            calls.append(ExpectedCall(call["name"], call.get("input")))
        return Turn(
            number=number,
            user=raw["user"],
            line=self.doc.where(path)[0],
            expect=Expect(
                contains=_texts(expect.get("contains")),
                not_contains=_texts(expect.get("not_contains")),
                matches=self._patterns(expect.get("matches"), (*where, "matches")),
                equals=expect.get("equals"),
                tool_calls=tuple(calls),
                tool_calls_match=expect.get("tool_calls_match", "in_order"),
                no_tool_calls=bool(expect.get("no_tool_calls", False)),
                has_object="object" in expect,
                object=expect.get("object"),
                judge=self._judge(expect.get("judge"), (*where, "judge")),
            ),
        )

    def _patterns(self, raw: Any, path: DocPath) -> tuple[re.Pattern[str], ...]:
        patterns = []
        for position, text in enumerate(_texts(raw)):
            try:
                patterns.append(re.compile(text))
            except re.error as exc:
                at = path if isinstance(raw, str) else (*path, position)
                self.issue(
                    at,
                    f"invalid regular expression: {exc.msg} at position {exc.pos}",
                    hint="a Python regular expression (re module); escape . * + ? ( ) [ ] with \\",
                    code="regex",
                )
        return tuple(patterns)

    def _judge(self, raw: Any, path: DocPath) -> Judge | None:
        if raw is None:
            return None
        rubric = raw if isinstance(raw, str) else raw["rubric"]
        agent = None if isinstance(raw, str) else raw.get("agent")
        if agent is None:
            if "judge" not in self.data:
                self.issue(
                    path,
                    "no agent grades this rubric",
                    hint="write judge: {agent: <id>, rubric: ...}, or name a judge: agent at "
                    "the top of the file",
                    code="reference",
                )
            return Judge(self.data.get("judge", ""), rubric)
        self._known_agent(agent, (*path, "agent"))
        return Judge(agent, rubric)


def _texts(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    return (raw,) if isinstance(raw, str) else tuple(raw)


__all__ = [
    "DEFAULT_FOLDER",
    "EVAL_SUFFIXES",
    "agent_tool_names",
    "default_eval_paths",
    "find_eval_files",
    "is_eval_file",
    "load_eval_file",
    "load_eval_files",
]
