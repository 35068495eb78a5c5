"""Read one YAML config file into plain data, remembering where every value came from.

pyyaml's composed nodes keep start marks, so every value and every mapping key gets a
``(line, column)`` here, and later errors point at the exact spot. Everything that can go
wrong with the bytes or the YAML (too big, not UTF-8, tabs, syntax, duplicate keys, several
documents, unknown tags, alias bombs) becomes a :class:`ConfigIssue`, never a traceback.
``${VAR}`` references are substituted here, while the scalar's quoting is still known: a
plain ``timeout: ${TIMEOUT:-60}`` becomes the number 60, a quoted one stays a string.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import ConfigError, ConfigIssue, DocPath, Severity, format_path
from .interpolate import Interpolation, has_reference, interpolate

#: Larger files are refused before parsing (a 1,000-agent file is ~150 KB).
MAX_FILE_BYTES = 4 * 1024 * 1024
#: Most values one document may expand to (aliases can multiply a small file).
MAX_VALUES = 200_000
MAX_DEPTH = 64

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()
_resolver = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
_CONSTRUCTED = {
    "tag:yaml.org,2002:int": _constructor.construct_yaml_int,
    "tag:yaml.org,2002:float": _constructor.construct_yaml_float,
    "tag:yaml.org,2002:bool": _constructor.construct_yaml_bool,
    "tag:yaml.org,2002:null": _constructor.construct_yaml_null,
}
#: Tags whose values are kept as the text written (dates stay strings, as JSON has no dates).
_AS_TEXT = {_STR, "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}
_MERGE = "tag:yaml.org,2002:merge"


@dataclass(slots=True)
class Document:
    """One file's data plus where each part of it was written (1-based line and column)."""

    file: str
    data: Any
    positions: dict[DocPath, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[DocPath, tuple[int, int]] = field(default_factory=dict)
    #: Values that used ``${...}``, by path.
    env: dict[DocPath, Interpolation] = field(default_factory=dict)

    def where(self, path: DocPath, *, key: bool = False) -> tuple[int, int]:
        """Position of ``path`` (its key with ``key=True``), else of its nearest ancestor."""
        if key and path in self.key_positions:
            return self.key_positions[path]
        while True:
            if path in self.positions:
                return self.positions[path]
            if not path:
                return (1, 1)
            path = path[:-1]

    def issue(
        self,
        path: DocPath,
        message: str,
        *,
        hint: str | None = None,
        key: bool = False,
        severity: Severity = "error",
        code: str = "invalid",
    ) -> ConfigIssue:
        line, column = self.where(path, key=key)
        return ConfigIssue(
            self.file,
            line,
            column,
            format_path(path),
            message,
            hint,
            severity,
            code,
        )


def file_issue(
    file: str, message: str, *, line: int = 1, column: int = 1, **kw: Any
) -> ConfigIssue:
    return ConfigIssue(file, line, column, "<root>", message, **kw)


def read_text(path: Path) -> str:
    """The file as text; size, encoding and I/O problems raise :class:`ConfigError`."""
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ConfigError([file_issue(name, _too_big(size), code="size")])
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([file_issue(name, "file not found", code="io")]) from None
    except IsADirectoryError:
        raise ConfigError([file_issue(name, "is a directory, not a file", code="io")]) from None
    except OSError as exc:
        raise ConfigError([file_issue(name, f"cannot read: {exc.strerror}", code="io")]) from None
    if len(data) > MAX_FILE_BYTES:  # grew since stat
        raise ConfigError([file_issue(name, _too_big(len(data)), code="size")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        issue = file_issue(
            name,
            f"not UTF-8: byte 0x{data[exc.start]:02x} cannot be decoded",
            line=line,
            column=column,
            hint="save the file as UTF-8",
            code="encoding",
        )
        raise ConfigError([issue]) from None


def _too_big(size: int) -> str:
    return f"file is {size / 1e6:.1f} MB; config files are limited to {MAX_FILE_BYTES // 2**20} MiB"


def load_document(
    path: str | Path, environ: Mapping[str, str] | None = None, *, interpolate: bool = True
) -> Document:
    """Read and parse ``path``. Raises :class:`ConfigError` listing every problem found."""
    path = Path(path)
    return parse_document(read_text(path), str(path), environ, interpolate=interpolate)


def parse_document(
    text: str,
    file: str,
    environ: Mapping[str, str] | None = None,
    *,
    interpolate: bool = True,
) -> Document:
    """Parse YAML ``text`` (named ``file`` in messages) into a :class:`Document`.

    ``interpolate=False`` reads every value as written: an eval file's ``${...}`` is text a
    case sends or expects, not a variable.
    """
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        raise ConfigError(
            [file_issue(file, "file is empty", hint="start with 'version: 1'", code="empty")]
        )
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_issue(file, exc, text)]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        message = f"character {exc.character!r} is not allowed in YAML"
        issue = file_issue(file, message, line=line, column=column, code="yaml")
        raise ConfigError([issue]) from None
    except yaml.YAMLError as exc:  # errors without a mark (rare): still no traceback
        raise ConfigError([file_issue(file, f"invalid YAML: {exc}", code="yaml")]) from None
    except RecursionError:
        raise ConfigError([file_issue(file, "YAML nested too deeply", code="yaml")]) from None
    if root is None:
        raise ConfigError([file_issue(file, "file is empty", code="empty")])
    doc = Document(file, None)
    builder = _Builder(doc, os.environ if environ is None else environ, interpolate)
    doc.data = builder.build(root, ())
    if builder.issues:
        raise ConfigError(builder.issues)
    return doc


def _syntax_issue(file: str, exc: yaml.MarkedYAMLError, text: str) -> ConfigIssue:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    context = exc.context or ""
    lines = text.splitlines()
    bad_line = lines[line - 1] if 0 < line <= len(lines) else ""
    hint = None
    if "\t" in bad_line[: max(column, len(bad_line) - len(bad_line.lstrip()))]:
        problem = "a tab character where YAML expects spaces"
        hint = "YAML indents with spaces only; replace the tab with spaces"
        column = bad_line.index("\t") + 1
    elif "single document" in context:
        problem = "several YAML documents ('---') in one file"
        hint = "use one document per file; pass several files to merge them"
    elif context:
        problem = f"{context}: {problem}"
    if "flow" in context and "${" in bad_line:
        hint = 'quote values that contain ${...} inside { } or [ ]: "${NAME}"'
    return ConfigIssue(
        file, line, column, "<root>", f"YAML syntax error: {problem}", hint, code="yaml"
    )


class _Builder:
    """Turns composed nodes into dicts/lists/scalars, recording positions and issues."""

    def __init__(self, doc: Document, environ: Mapping[str, str], interpolate: bool) -> None:
        self.doc = doc
        self.environ = environ
        self.interpolate = interpolate
        self.issues: list[ConfigIssue] = []
        self.count = 0
        self.active: set[int] = set()

    def build(self, node: Node, path: DocPath) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            self.fail(path, f"more than {MAX_VALUES} values (an alias expanding too often?)")
        if id(node) in self.active:
            self.fail(path, "recursive alias: a value that contains itself")
        if len(path) > MAX_DEPTH:
            self.fail(path, f"nested more than {MAX_DEPTH} levels deep")
        self.doc.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return self.mapping(node, path)  # type: ignore[arg-type]
        finally:
            self.active.discard(id(node))

    def fail(self, path: DocPath, message: str) -> None:
        """Stop building: the rest of the document cannot be trusted."""
        raise ConfigError([*self.issues, self.doc.issue(path, message, code="yaml")])

    def mapping(self, node: MappingNode, path: DocPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                self.merge(result, value_node, path)
                continue
            if not isinstance(key_node, ScalarNode):
                self.issues.append(self.doc.issue(path, "a key must be plain text", code="yaml"))
                continue
            key = str(key_node.value)
            key_path = (*path, key)
            key_line = key_node.start_mark.line + 1
            if key in first_seen:
                self.issues.append(
                    self._issue_at(
                        key_node,
                        key_path,
                        f"duplicate key {key!r} (first at line {first_seen[key]})",
                        "a later value would silently replace the first; keep one",
                    )
                )
                continue
            first_seen[key] = key_line
            self.doc.key_positions[key_path] = (key_line, key_node.start_mark.column + 1)
            result[key] = self.build(value_node, key_path)
        return result

    def merge(self, result: dict[str, Any], value_node: Node, path: DocPath) -> None:
        """``<<: *base`` (or a list of them): keys not set in this mapping come from base."""
        sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self.issues.append(self.doc.issue(path, "'<<' merges only mappings", code="yaml"))
                continue
            for key, value in self.mapping(source, path).items():
                result.setdefault(key, value)

    def scalar(self, node: ScalarNode, path: DocPath) -> Any:
        tag, text = node.tag, node.value
        if self.interpolate and tag == _STR and has_reference(text):
            found = interpolate(text, self.environ)
            self.doc.env[path] = found
            if found.malformed:
                self.issues.append(
                    self.doc.issue(
                        path,
                        f"malformed reference {found.malformed[0]!r}",
                        hint="write ${NAME} or ${NAME:-default}; $${ for a literal ${",
                        code="env",
                    )
                )
            if found.missing or node.style:  # quoted: stays a string (CSafeLoader: "" = plain)
                return found.value
            text = found.value
            tag = _resolver.resolve(ScalarNode, text, (True, False))
            node = ScalarNode(tag, text, node.start_mark, node.end_mark)
        if tag in _AS_TEXT:
            return text
        construct = _CONSTRUCTED.get(tag)
        if construct is None:
            self.issues.append(self.doc.issue(path, f"unsupported YAML tag {tag!r}", code="yaml"))
            return text
        try:
            return construct(node)
        except (ValueError, yaml.YAMLError):
            return text

    def _issue_at(self, node: Node, path: DocPath, message: str, hint: str) -> ConfigIssue:
        return ConfigIssue(
            self.doc.file,
            node.start_mark.line + 1,
            node.start_mark.column + 1,
            format_path(path),
            message,
            hint,
            code="duplicate-key",
        )


__all__ = ["MAX_FILE_BYTES", "Document", "load_document", "parse_document", "read_text"]
