"""The YAML loader: positions for every value and key, and a clear ConfigError (never a
traceback) for every way a file can be broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from vel_runner.config.errors import ConfigError
from vel_runner.config.interpolate import interpolate
from vel_runner.config.loader import MAX_FILE_BYTES, load_document, parse_document


def _error(text: str) -> tuple[int, int, str, str | None]:
    with pytest.raises(ConfigError) as caught:
        parse_document(text, "a.yaml", {})
    issue = caught.value.issues[0]
    return issue.line, issue.column, issue.message, issue.hint


def test_positions_of_values_and_keys() -> None:
    doc = parse_document("version: 1\nagents:\n  - id: a\n    model: {provider: p}\n", "a.yaml", {})
    assert doc.data == {"version": 1, "agents": [{"id": "a", "model": {"provider": "p"}}]}
    assert doc.where(("agents", 0, "id")) == (3, 9)
    assert doc.where(("agents", 0, "id"), key=True) == (3, 5)
    assert doc.where(("agents", 0, "model", "provider")) == (4, 23)
    assert doc.where(("agents", 0, "model", "missing", "deeper")) == (4, 12)  # nearest ancestor


def test_scalars_are_json_values() -> None:
    doc = parse_document(
        "a: 1\nb: 1.5\nc: true\nd: null\ne: 2024-01-01\nf: '7'\ng: 0x10\n", "a.yaml", {}
    )
    assert doc.data == {
        "a": 1,
        "b": 1.5,
        "c": True,
        "d": None,
        "e": "2024-01-01",
        "f": "7",
        "g": 16,
    }


def test_anchors_and_merge_keys() -> None:
    text = "base: &b {type: echo, delay: 0}\np:\n  <<: *b\n  delay: 2\nq: *b\n"
    assert parse_document(text, "a.yaml", {}).data == {
        "base": {"type": "echo", "delay": 0},
        "p": {"type": "echo", "delay": 2},
        "q": {"type": "echo", "delay": 0},
    }


def test_plain_references_are_typed_and_quoted_ones_stay_strings() -> None:
    env = {"N": "5", "FLAG": "true"}
    doc = parse_document("a: ${N}\nb: '${N}'\nc: ${FLAG}\nd: x-${N}\ne: ${M:-2.5}\n", "a.yaml", env)
    assert doc.data == {"a": 5, "b": "5", "c": True, "d": "x-5", "e": 2.5}
    assert doc.env[("a",)].raw == "${N}" and doc.env[("a",)].names == ("N",)


def test_a_missing_variable_keeps_its_reference() -> None:
    doc = parse_document("a: ${NOPE}\n", "a.yaml", {})
    assert doc.data == {"a": "${NOPE}"}
    assert doc.env[("a",)].missing == ("NOPE",)


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        ("a: [1\n", 2, 1, "YAML syntax error"),
        ("a: 1\n---\nb: 2\n", 2, 1, "several YAML documents"),
        ("a:\n\tb: 1\n", 2, 1, "a tab character where YAML expects spaces"),
        ("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key 'a' (first at line 1)"),
        ("a: !custom 1\n", 1, 4, "unsupported YAML tag '!custom'"),
        ("a: &x [1, *x]\n", 1, 4, "recursive alias"),
        ("a: *nothing\n", 1, 4, "YAML syntax error"),
        ("", 1, 1, "file is empty"),
        ("   \n# only a comment\n", 1, 1, "file is empty"),
        ("? [a, b]\n: 1\n", 1, 1, "a key must be plain text"),
        ("a: '${OPEN'\n", 1, 4, "malformed reference"),
    ],
)
def test_broken_yaml_gives_a_positioned_error(
    text: str, line: int, column: int, fragment: str
) -> None:
    found = _error(text)
    assert found[:2] == (line, column), found
    assert fragment in found[2]


def test_flow_mapping_with_an_unquoted_reference_hints_at_quotes() -> None:
    *_, hint = _error("p: {api_key: ${KEY}}\n")
    assert hint is not None and "quote" in hint


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    found = _error("\n".join(lines) + "\n")
    assert "more than" in found[2] and "values" in found[2]


def test_non_utf8_bytes_point_at_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"version: 1\nname: caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_document(path, {})
    issue = caught.value.issues[0]
    assert (issue.line, issue.column) == (2, 10)
    assert "not UTF-8: byte 0xe9" in issue.message


def test_a_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"\xef\xbb\xbfversion: 1\n")
    assert load_document(path, {}).data == {"version": 1}


def test_huge_files_are_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    with pytest.raises(ConfigError) as caught:
        load_document(path, {})
    assert "config files are limited to 4 MiB" in caught.value.issues[0].message


def test_missing_file_and_directory_are_io_errors(tmp_path: Path) -> None:
    for path, fragment in (
        (tmp_path / "nope.yaml", "file not found"),
        (tmp_path, "is a directory"),
    ):
        with pytest.raises(ConfigError) as caught:
            load_document(path, {})
        assert caught.value.issues[0].code == "io" and fragment in caught.value.issues[0].message


def test_interpolation_syntax() -> None:
    env = {"A": "x", "EMPTY": ""}
    assert interpolate("${A}", env).value == "x"
    assert interpolate("${EMPTY:-d}", env).value == "d"
    assert interpolate("${EMPTY}", env).value == ""
    assert interpolate("$${A}", env).value == "${A}"
    assert interpolate("a${A}b${B}", env).missing == ("B",)
    assert interpolate("${1x}", env).malformed == ("${1x}",)
