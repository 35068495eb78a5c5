"""Property tests: whatever the file holds, loading and checking it raises nothing but
ConfigError (the loader) or returns issues (the checker): never a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from helpers.paths import REPO_ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vel_runner.config.errors import ConfigError
from vel_runner.config.loader import load_document, parse_document
from vel_runner.config.validate import check_config

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Keys and values of the real format, so random documents reach deep into the schema.
KEYS = st.sampled_from(
    ["version", "providers", "stores", "agents", "id", "model", "provider", "type", "store",
     "context", "mode", "max_history", "ttl", "dsn", "api_key", "base_url", "timeout",
     "generation", "temperature", "stop", "openai", "echo", "memory", "database", "min_size",
     "max_size", "instructions", "x", "<<"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["openai", "echo", "memory", "database", "window", "stateless", "1h",
                     "0s", "${HOME}", "${NOPE}", "${NOPE:-3}", "${", "http://x", "a b", ""]),
    st.text(max_size=20),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(KEYS, st.text(max_size=8)), inner, max_size=5),
    ),
    max_leaves=30,
)
DOCUMENTS = st.one_of(
    st.dictionaries(KEYS, VALUES, max_size=6),
    st.fixed_dictionaries(
        {"version": st.just(1), "providers": VALUES, "stores": VALUES, "agents": VALUES}
    ),
    VALUES,
)


def _check_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "agents.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        config, issues = check_config([path], environ={"HOME": "/root"})
    assert config is not None or any(issue.severity == "error" for issue in issues)
    for issue in issues:
        assert issue.line >= 1 and issue.column >= 1 and issue.message


@SETTINGS
@given(st.text(max_size=300))
def test_random_text_only_raises_config_error(text: str) -> None:
    try:
        parse_document(text, "random.yaml", {})
    except ConfigError as exc:
        assert exc.issues


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_config_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "agents.yaml"
        path.write_bytes(data)
        try:
            load_document(path, {})
        except ConfigError as exc:
            assert exc.issues


@SETTINGS
@given(DOCUMENTS)
def test_random_documents_never_crash_the_checker(document: Any) -> None:
    _check_text(yaml.safe_dump(document, allow_unicode=True))


@SETTINGS
@given(DOCUMENTS, st.sampled_from(["flow", "block"]))
def test_random_documents_in_either_style_never_crash(document: Any, style: str) -> None:
    _check_text(yaml.safe_dump(document, default_flow_style=style == "flow"))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


SHIPPED = yaml.safe_load((REPO_ROOT / "agents.yaml").read_text())
SHIPPED["stores"]["pg"] = {"type": "database", "dsn": "${PG:-postgresql:///x}", "ttl": "7d"}
SHIPPED["agents"].append({"id": "db", "model": {"provider": "openai", "model": "m"}, "store": "pg"})
SHIPPED_PATHS = _paths(SHIPPED)[1:]


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(SHIPPED_PATHS), VALUES), min_size=1, max_size=3))
def test_mutations_of_a_valid_config_never_crash(
    mutations: list[tuple[tuple[Any, ...], Any]],
) -> None:
    """Nearly valid documents reach the merge and the semantic checks: they must cope too."""
    import copy

    document = copy.deepcopy(SHIPPED)
    for path, value in mutations:
        target = document
        try:
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    _check_text(yaml.safe_dump(document))
