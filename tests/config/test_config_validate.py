"""The table of bad configs: each gives one error at the expected line, path and message.

Plus: warnings that do not fail, several files merged, secrets never shown, and the shipped
agents.yaml and every example config validating.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.paths import REPO_ROOT

from vel_runner.config.errors import ConfigError
from vel_runner.config.validate import check_config, load_config

ROOT = REPO_ROOT
HEAD = "version: 1\nproviders:\n  offline: {type: echo}\n"  # lines 1-3

# (name, yaml, line, column, path, message fragment, hint fragment or None)
BAD = [
    (
        "unknown key with did-you-mean",
        HEAD + "agents:\n  - id: a\n    model: {provider: offline, model: m}\n"
        "    generation: {temprature: 0.2}\n",
        7,
        18,
        "agents[0].generation.temprature",
        "unknown key 'temprature'",
        "did you mean 'temperature'?",
    ),
    (
        "unknown top-level key",
        HEAD + "agent:\n  - id: a\n",
        4,
        1,
        "agent",
        "unknown key 'agent'",
        "did you mean 'agents'?",
    ),
    (
        "enum with allowed values",
        HEAD + "agents:\n  - id: a\n    model: {provider: offline, model: m}\n"
        "    context:\n      mode: windw\n      max_history: 3\n",
        8,
        13,
        "agents[0].context.mode",
        "'windw' is not one of the allowed values",
        "did you mean 'window'? allowed: full, stateless, window, summarize",
    ),
    (
        "unknown provider type",
        "version: 1\nproviders:\n  x:\n    type: opneai\n",
        4,
        11,
        "providers.x.type",
        "'opneai' is not one of the allowed values",
        "openai",
    ),
    (
        "undeclared provider",
        HEAD + "agents:\n  - id: a\n    model:\n      provider: ofline\n      model: m\n",
        7,
        17,
        "agents[0].model.provider",
        "provider 'ofline' is not declared",
        "did you mean 'offline'?",
    ),
    (
        "undeclared store",
        HEAD + "agents:\n  - id: a\n    model: {provider: offline, model: m}\n    store: pg\n",
        7,
        12,
        "agents[0].store",
        "store 'pg' is not declared",
        "declared stores: memory",
    ),
    (
        "duplicate agent id",
        HEAD + "agents:\n  - id: a\n    model: {provider: offline, model: m}\n"
        "  - id: a\n    model: {provider: offline, model: m}\n",
        7,
        9,
        "agents[1].id",
        "duplicate agent id 'a' (first declared at",
        None,
    ),
    (
        "stateless with max_history",
        HEAD + "agents:\n  - id: a\n    model: {provider: offline, model: m}\n"
        "    context: {mode: stateless, max_history: 5}\n",
        7,
        32,
        "agents[0].context.max_history",
        "max_history has no effect with mode 'stateless'",
        "mode: window",
    ),
    (
        "window without max_history",
        HEAD + "agents:\n  - id: a\n    model: {provider: offline, model: m}\n"
        "    context: {mode: window}\n",
        7,
        14,
        "agents[0].context",
        "missing required key 'max_history'",
        "Messages kept",
    ),
    (
        "unset variable in a provider in use",
        "version: 1\nproviders:\n  oa:\n    type: openai\n    api_key: ${VEL_TEST_UNSET_KEY}\n"
        "agents:\n  - id: a\n    model: {provider: oa, model: gpt-4o}\n",
        5,
        14,
        "providers.oa.api_key",
        "VEL_TEST_UNSET_KEY not set",
        "set VEL_TEST_UNSET_KEY",
    ),
    (
        "unset variable in an agent",
        HEAD + 'agents:\n  - id: a\n    model: {provider: offline, model: "${VEL_TEST_MODEL}"}\n',
        6,
        39,
        "agents[0].model.model",
        "VEL_TEST_MODEL not set",
        None,
    ),
    (
        "database store without dsn",
        HEAD + "stores:\n  pg: {type: database}\nagents:\n  - id: a\n"
        "    model: {provider: offline, model: m}\n    store: pg\n",
        5,
        3,
        "stores.pg",
        "database store 'pg' has no dsn and POSTGRES_DSN is not set",
        'dsn: "${POSTGRES_DSN}"',
    ),
    (
        "yaml syntax error",
        HEAD + "agents:\n  - id: a\n    model: {provider: offline, model: m\n",
        7,
        1,
        "<root>",
        "YAML syntax error",
        None,
    ),
    ("empty file", "# nothing here\n\n", 1, 1, "<root>", "file is empty", "version: 1"),
    ("a list at the top", "- version: 1\n", 1, 1, "<root>", "expected a mapping, got a list", None),
    (
        "a mapping where the agents list belongs",
        HEAD + "agents:\n  a:\n    model: {provider: offline, model: m}\n",
        5,
        3,
        "agents",
        "expected a list, got a mapping",
        None,
    ),
    (
        "tab indentation",
        HEAD + "agents:\n\t- id: a\n",
        5,
        1,
        "<root>",
        "a tab character where YAML expects spaces",
        "spaces",
    ),
    (
        "duplicate key",
        HEAD + "agents:\n  - id: a\n    id: b\n    model: {provider: offline, model: m}\n",
        6,
        5,
        "agents[0].id",
        "duplicate key 'id' (first at line 5)",
        None,
    ),
    ("wrong version", "version: 2\n", 1, 10, "version", "must be 1, got 2", None),
    (
        "bad duration",
        HEAD + "agents:\n  - id: a\n    model: {provider: offline, model: m}\n    ttl: 1 hour\n",
        7,
        10,
        "agents[0].ttl",
        "'1 hour' is not valid here",
        "A duration",
    ),
    (
        "zero ttl",
        HEAD + "agents:\n  - id: a\n    model: {provider: offline, model: m}\n    ttl: 0s\n",
        7,
        10,
        "agents[0].ttl",
        "ttl must be greater than 0",
        "never expire",
    ),
    (
        "bad agent id",
        HEAD + "agents:\n  - id: my agent\n    model: {provider: offline, model: m}\n",
        5,
        9,
        "agents[0].id",
        "'my agent' is not valid here",
        "letters, digits",
    ),
    (
        "pool sizes",
        HEAD + "stores:\n  pg: {type: database, dsn: 'postgresql:///x', min_size: 5, max_size: 2}\n"
        "agents:\n  - id: a\n    model: {provider: offline, model: m}\n    store: pg\n",
        5,
        58,
        "stores.pg.min_size",
        "min_size 5 is above max_size 2",
        None,
    ),
    (
        "missing model",
        HEAD + "agents:\n  - id: a\n",
        5,
        5,
        "agents[0]",
        "missing required key 'model'",
        "Which model answers",
    ),
    (
        "string where a number belongs",
        "version: 1\nproviders:\n  oa: {type: openai, timeout: soon}\n",
        3,
        31,
        "providers.oa.timeout",
        "expected a number, got the string 'soon'",
        None,
    ),
    (
        "interpolated number keeps its reference in the message",
        "version: 1\nproviders:\n  oa:\n    type: openai\n    timeout: ${VEL_TEST_TIMEOUT:-soon}\n",
        5,
        14,
        "providers.oa.timeout",
        "'${VEL_TEST_TIMEOUT:-soon}'",
        None,
    ),
    (
        "bad provider name",
        "version: 1\nproviders:\n  'my provider': {type: echo}\n",
        3,
        3,
        "providers.my provider",
        "'my provider' is not a valid name",
        "letters",
    ),
    (
        "malformed reference",
        HEAD + 'agents:\n  - id: a\n    model: {provider: offline, model: "${1BAD}"}\n',
        6,
        39,
        "agents[0].model.model",
        "malformed reference '${1BAD}'",
        "${NAME:-default}",
    ),
    (
        "no agents",
        HEAD,
        1,
        1,
        "agents",
        "no agents declared",
        None,
    ),
]


def _check(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list:
    path = tmp_path / "agents.yaml"
    path.write_text(text, encoding="utf-8")
    config, issues = check_config([path], environ=env or {})
    return [issue for issue in issues if issue.severity == "error"], config


@pytest.mark.parametrize(
    ("text", "line", "column", "path", "message", "hint"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_bad_config_reports_line_and_message(
    tmp_path: Path, text: str, line: int, column: int, path: str, message: str, hint: str | None
) -> None:
    errors, config = _check(tmp_path, text)
    assert config is None
    assert len(errors) == 1, [str(e) for e in errors]
    error = errors[0]
    assert (error.line, error.column, error.path) == (line, column, path), str(error)
    assert message in error.message
    assert error.file == str(tmp_path / "agents.yaml")
    if hint is not None:
        assert error.hint is not None and hint in error.hint
    assert str(error).startswith(f"{error.file}:{line}:{column}: {path}: ")


def test_several_errors_are_reported_in_one_run(tmp_path: Path) -> None:
    text = HEAD + (
        "agents:\n  - id: a\n    model: {provider: offline, model: m}\n    colour: red\n"
        "  - id: b\n    model: {provider: offline, model: m}\n    context: {mode: nope}\n"
    )
    errors, _ = _check(tmp_path, text)
    assert [(e.line, e.path) for e in errors] == [
        (7, "agents[0].colour"),
        (10, "agents[1].context.mode"),
    ]


def test_a_misspelt_variant_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    text = (
        "version: 1\nproviders:\n  offline:\n    typee: echo\n"  # 3-4
        "  slow:\n    type: ecko\n    dealy: 1\n"  # 5-7
        "stores:\n  pg: {tpye: database, dsn: x}\n"  # 8-9
        "agents:\n  - id: a\n    model: {provider: offline, model: m}\n"
    )
    errors, _ = _check(tmp_path, text)
    found = [(e.line, e.column, e.path, e.message) for e in errors]
    assert found == [
        (4, 5, "providers.offline", "missing required key 'type'"),
        (4, 5, "providers.offline.typee", "unknown key 'typee'"),
        (6, 11, "providers.slow.type", "'ecko' is not one of the allowed values"),
        (7, 5, "providers.slow.dealy", "unknown key 'dealy'"),
        (9, 7, "stores.pg", "missing required key 'type'"),
        (9, 8, "stores.pg.tpye", "unknown key 'tpye'"),
    ]
    hints = {e.path: e.hint for e in errors}
    assert hints["providers.offline.typee"].startswith("did you mean 'type'? allowed keys: ")
    assert hints["providers.slow.dealy"].startswith("did you mean 'delay'? allowed keys: ")
    assert hints["stores.pg.tpye"].startswith("did you mean 'type'? allowed keys: dsn, ")


def test_a_key_of_another_variant_is_named_once(tmp_path: Path) -> None:
    text = HEAD.replace("{type: echo}", "{type: echo, base_url: 'http://x', dealy: 1}")
    errors, _ = _check(
        tmp_path, text + "agents:\n  - id: a\n    model: {provider: offline, model: m}\n"
    )
    assert [(e.path, e.message, e.hint) for e in errors] == [
        ("providers.offline.base_url", "unknown key 'base_url'", "allowed keys: delay, type"),
        ("providers.offline.dealy", "unknown key 'dealy'",
         "did you mean 'delay'? allowed keys: delay, type"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("line", "env"),
    [
        ("  gw: {type: openai, base_url: 'https://bob:hunter2@gw/v1'}", None),
        ("  gw: {type: openai, base_url: 'https://bob:${PW:-hunter2}@gw/v1'}", None),
        ("  pg: {type: database, dsn: 'postgresql://vel:hunter2@db/vel'}", None),
        ("  pg: {type: database, dsn: 'postgresql//vel:hunter2@db/vel'}", None),
        ("  pg: {type: database, dsn: 'vel:hunter2@db/vel'}", None),
        ("  pg: {type: database, dsn: \"host=db password='hun ter2'\"}", None),
        ("  pg: {type: database, dsn: 'postgresql://vel@db/vel?password=hunter2'}", None),
    ],
)
def test_literal_credentials_are_a_warning_at_their_line(
    tmp_path: Path, line: str, env: dict[str, str] | None
) -> None:
    section = "providers" if "openai" in line else "stores"
    text = HEAD + ("" if section == "providers" else "stores:\n") + line + "\n"
    text += "agents:\n  - id: a\n    model: {provider: offline, model: m}\n"
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    config, issues = check_config([path], environ=env or {})
    assert config is not None  # a warning, not an error
    [warning] = issues
    key = "base_url" if section == "providers" else "dsn"
    assert (warning.severity, warning.code, warning.message) == (
        "warning", "secret", "a secret is written in the file",
    )  # fmt: skip
    assert (
        warning.path.endswith(f".{key}")
        and warning.line == text.count("\n", 0, text.index(line)) + 1
    )
    assert "hunter2" not in f"{warning} {warning.hint}"


@pytest.mark.parametrize(
    "line",
    [
        "  gw: {type: openai, base_url: 'https://bob:${PW}@gw/v1'}",
        "  gw: {type: openai, base_url: '${GW_URL}'}",
        "  gw: {type: openai, base_url: 'https://gw.example:8443/v1'}",
        "stores:\n  pg: {type: database, dsn: '${POSTGRES_DSN}'}",
        "stores:\n  pg: {type: database, dsn: 'postgresql://vel:${PW}@db/vel'}",
        "stores:\n  pg: {type: database, dsn: \"host=db password='${PW}'\"}",
        "stores:\n  pg: {type: database, dsn: 'postgresql://vel@db:5432/vel'}",
    ],
)
def test_credentials_from_the_environment_are_fine(tmp_path: Path, line: str) -> None:
    env = {"PW": "hunter2", "GW_URL": "https://bob:hunter2@gw/v1",
           "POSTGRES_DSN": "postgresql://vel:hunter2@db/vel"}  # fmt: skip
    text = HEAD + line + "\nagents:\n  - id: a\n    model: {provider: offline, model: m}\n"
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    config, issues = check_config([path], environ=env)
    assert config is not None and issues == []


def test_unset_variable_in_unused_provider_is_only_a_warning(tmp_path: Path) -> None:
    text = HEAD + (
        "  oa: {type: openai, api_key: '${VEL_TEST_UNSET_KEY}'}\n"
        "agents:\n  - id: a\n    model: {provider: offline, model: m}\n"
    )
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    config, issues = check_config([path], environ={})
    assert config is not None and list(config.agents) == ["a"]
    [warning] = issues
    assert warning.severity == "warning" and "VEL_TEST_UNSET_KEY" in warning.message
    assert warning.line == 4


def test_secrets_are_never_shown(tmp_path: Path) -> None:
    secret = "sk-very-secret-value-123"
    path = tmp_path / "agents.yaml"
    path.write_text(
        "version: 1\nproviders:\n  oa:\n    type: openai\n    api_key: ${VEL_KEY}\n"
        "    base_url: ${VEL_KEY}\n    timeout: ${VEL_KEY}\n"
    )
    _, issues = check_config([path], environ={"VEL_KEY": secret})
    shown = "\n".join(f"{i} {i.hint}" for i in issues)
    assert "base_url" in shown and "timeout" in shown and "${VEL_KEY}" in shown
    assert secret not in shown

    path.write_text(
        HEAD + "  oa: {type: openai, api_key: sk-literal-secret-999}\n"
        "stores:\n  pg: {type: database, dsn: 'postgresql://vel:hunter2@db/vel'}\n"
        "agents:\n  - id: a\n    model: {provider: oa, model: m}\n    store: pg\n"
    )
    config, issues = check_config([path], environ={})
    assert config is not None
    assert [(i.path, i.message) for i in issues] == [
        ("providers.oa.api_key", "a secret is written in the file"),
        ("stores.pg.dsn", "a secret is written in the file"),
    ]
    shown = "\n".join(f"{i} {i.hint}" for i in issues)
    assert "sk-literal-secret-999" not in shown and "hunter2" not in shown


def test_env_values_and_defaults_are_substituted(tmp_path: Path) -> None:
    text = (
        "version: 1\nproviders:\n  oa:\n    type: openai\n    api_key: '${VEL_KEY}'\n"
        "    timeout: ${VEL_TIMEOUT:-12.5}\n    max_retries: ${VEL_RETRIES}\n"
        "agents:\n  - id: a\n    model: {provider: oa, model: '${VEL_MODEL:-gpt-4o-mini}'}\n"
    )
    path = tmp_path / "agents.yaml"
    path.write_text(text)
    config = load_config([path], environ={"VEL_KEY": "k", "VEL_RETRIES": "4"})
    assert config.providers["oa"] == {
        "type": "openai", "api_key": "k", "timeout": 12.5, "max_retries": 4,
    }  # fmt: skip
    assert config.agents["a"]["model"]["model"] == "gpt-4o-mini"


def test_defaults_come_from_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(
        HEAD + "  oa: {type: openai}\nagents:\n  - id: a\n    model: {provider: oa, model: m}\n"
    )
    config = load_config([path], environ={})
    assert config.providers["oa"] == {"type": "openai", "timeout": 60, "max_retries": 2}
    assert config.agents["a"]["store"] == "memory"
    assert config.agents["a"]["context"] == {"mode": "full"}


def test_several_files_merge_and_duplicates_point_at_both(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        HEAD + "agents:\n  - id: one\n    model: {provider: offline, model: m}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "version: 1\nagents:\n  - id: two\n    model: {provider: offline, model: m}\n"
    )
    config = load_config([tmp_path], environ={})
    assert list(config.agents) == ["one", "two"]
    assert config.files == [str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")]

    (tmp_path / "c.yaml").write_text("version: 1\nproviders:\n  offline: {type: echo}\n")
    with pytest.raises(ConfigError) as caught:
        load_config([tmp_path], environ={})
    [error] = caught.value.errors
    assert error.file == str(tmp_path / "c.yaml") and (error.line, error.column) == (3, 3)
    assert (
        f"duplicate provider 'offline' (first declared at {tmp_path / 'a.yaml'}:3:3)"
        in error.message
    )


def test_file_errors_do_not_hide_the_other_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("version: 1\nagents: [\n")
    (tmp_path / "b.yaml").write_text("version: 1\nbogus: 1\n")
    _, issues = check_config([tmp_path], environ={})
    assert sorted((Path(i.file).name, i.line) for i in issues) == [("a.yaml", 3), ("b.yaml", 2)]


def test_version_changes_only_with_the_config(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text(HEAD + "agents:\n  - id: a\n    model: {provider: offline, model: m}\n")
    first = load_config([path], environ={}).version
    path.write_text(
        HEAD + "# a comment\nagents:\n  - {id: a, model: {provider: offline, model: m}}\n"
    )
    assert load_config([path], environ={}).version == first
    path.write_text(HEAD + "agents:\n  - id: a\n    model: {provider: offline, model: m2}\n")
    assert load_config([path], environ={}).version != first


#: What the examples' comments tell people to set (agents.yaml itself needs nothing).
EXAMPLE_ENV = {"OPENAI_API_KEY": "sk-test", "POSTGRES_DSN": "postgresql://localhost/vel"}


def _shipped() -> list[Path]:
    return [ROOT / "agents.yaml", *sorted((ROOT / "examples" / "configs").glob("*.yaml"))]


def test_shipped_agents_yaml_validates_offline() -> None:
    config, issues = check_config([ROOT / "agents.yaml"], environ={})
    assert config is not None, [str(i) for i in issues]
    assert {a["context"]["mode"] for a in config.agents.values()} == {
        "full", "stateless", "window", "summarize",
    }  # fmt: skip
    types = {
        a["id"]: config.providers[a["model"]["provider"]]["type"] for a in config.agents.values()
    }
    assert types == {  # offline, but concierge (which loads without its key: evals/ replay it)
        "assistant": "echo", "translator": "echo", "support": "echo", "tutor": "echo",
        "concierge": "openai", "triage": "echo",
    }  # fmt: skip
    assert issues == []
    assert (
        (ROOT / "agents.yaml")
        .read_text()
        .startswith("# yaml-language-server: $schema=./schema/agents.schema.json\n")
    )


@pytest.mark.parametrize("path", _shipped(), ids=lambda p: p.name)
def test_shipped_configs_validate(path: Path) -> None:
    config, issues = check_config([path], environ=EXAMPLE_ENV)
    assert config is not None, [str(i) for i in issues]
    assert issues == []


@pytest.mark.parametrize("path", _shipped(), ids=lambda p: p.name)
def test_shipped_configs_validate_against_the_raw_schema(path: Path) -> None:
    """Editors see the file through the schema alone (no interpolation): it must pass too."""
    import jsonschema
    import yaml

    from vel_runner.config.schema import load_schema

    jsonschema.validate(yaml.safe_load(path.read_text()), load_schema())


def test_schema_generation_keys_are_ones_the_agent_accepts() -> None:
    from vel_runner.agent import GENERATION_KEYS
    from vel_runner.config.schema import definition

    assert set(definition("generation")["properties"]) <= GENERATION_KEYS


def _subschemas(schema: object) -> list[dict]:
    found = []
    if isinstance(schema, dict):
        found.append(schema)
        for key, value in schema.items():
            if key != "if":  # conditions, not fields
                found.extend(_subschemas(value))
    elif isinstance(schema, list):
        for item in schema:
            found.extend(_subschemas(item))
    return found


def test_the_schema_describes_every_field_and_closes_every_object() -> None:
    from vel_runner.config.schema import load_schema

    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for sub in _subschemas(schema):
        for name, prop in sub.get("properties", {}).items():
            assert "description" in prop or "$ref" in prop, f"{name} has no description"
        if sub.get("type") == "object" and "properties" in sub and "allOf" not in sub:
            assert sub.get("additionalProperties") is False, sub.get("description")
    for name, definition in schema["$defs"].items():
        assert "description" in definition, name


def test_every_context_mode_of_the_schema_builds_its_context_manager() -> None:
    from vel_runner.config.build import make_context_manager
    from vel_runner.config.schema import enum_values

    for mode in enum_values("context", "mode"):
        manager = make_context_manager({"mode": mode, "max_history": 3})
        assert manager.mode == mode


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ('agents: ["${NOPE}"]', "agents[0]"),
        ('agents: "${NOPE}"', "agents"),
        ('providers: "${NOPE}"', "providers"),
        ('stores: {a: "${NOPE}"}', "stores.a"),
    ],
)
def test_an_unset_variable_where_a_mapping_or_list_belongs_is_an_error(
    tmp_path: Path, line: str, where: str
) -> None:
    """Hypothesis found these crashing the merge ('string indices must be integers')."""
    path = tmp_path / "agents.yaml"
    path.write_text(f"version: 1\n{line}\n")
    config, issues = check_config([path], environ={})
    assert config is None
    assert any(
        i.path == where and i.severity == "error" and "got the string '${NOPE}'" in i.message
        for i in issues
    )


def test_a_wrong_type_under_a_oneof_is_reported_once(tmp_path: Path) -> None:
    path = tmp_path / "agents.yaml"
    path.write_text("version: 1\nstores: {a: 5}\n")
    _config, issues = check_config([path], environ={})
    messages = [i.message for i in issues if "got the number 5" in i.message]
    assert messages == ["expected a mapping, got the number 5"]


def test_a_schema_error_does_not_hide_the_names_it_gets_wrong(tmp_path: Path) -> None:
    """docs/config.md shows a wrong provider and a wrong mode of one agent in one run; the
    old merge left the agent out for its schema error and judged none of its names."""
    text = (
        "version: 1\nproviders:\n  openai: {type: openai, api_key: '${KEY:-k}'}\n"
        "  offline: {type: echo}\n"  # 1-4
        "agents:\n  - id: support\n    model: {provider: opnai, model: m}\n"  # 5-7
        "    context: {mode: windw}\n    store: nostore\n    tools: [clok, 5]\n"  # 8-10
        "  - id: helper\n    model: {provider: offline, model: m}\n    colour: red\n"  # 11-13
        "tools:\n  ask: {type: agent, agent: nobody, colour: 1}\n"  # 14-15
        "  ask2: {type: agent, agent: helper}\n"  # 16: helper has a schema error, but exists
    )
    errors, config = _check(tmp_path, text)
    assert config is None
    found = [(e.line, e.path, e.message) for e in errors]
    assert found == [
        (7, "agents[0].model.provider", "provider 'opnai' is not declared"),
        (8, "agents[0].context.mode", "'windw' is not one of the allowed values"),
        (9, "agents[0].store", "store 'nostore' is not declared"),
        (10, "agents[0].tools[0]", "tool 'clok' is not declared"),
        (10, "agents[0].tools[1]", "expected a string, got the number 5"),
        (13, "agents[1].colour", "unknown key 'colour'"),
        (15, "tools.ask.agent", "tool 'ask' calls agent 'nobody', which is not declared"),
        (15, "tools.ask.colour", "unknown key 'colour'"),
    ], found
    assert errors[0].hint == "did you mean 'openai'? declared providers: offline, openai"


def test_a_name_with_a_bad_value_of_its_own_is_reported_once(tmp_path: Path) -> None:
    """A reference that is itself malformed gets its schema error, not also "not declared"."""
    text = HEAD + "agents:\n  - id: a\n    model: {provider: 'bad name!', model: m}\n"
    errors, _ = _check(tmp_path, text)
    assert [(e.path, e.message) for e in errors] == [
        ("agents[0].model.provider", "'bad name!' is not valid here")
    ]


NEWLINE_NAMES = [
    ("agent id", HEAD + 'agents:\n  - id: "a\\n"\n    model: {provider: offline, model: m}\n',
     "agents[0].id"),
    ("provider name", 'version: 1\nproviders:\n  "offline\\n": {type: echo}\n',
     "providers['offline\\n']"),
    ("tool name", HEAD + 'tools:\n  "calc\\n": {type: agent, agent: a}\n', "tools['calc\\n']"),
    ("tool of an agent", HEAD + 'agents:\n  - id: a\n    model: {provider: offline, model: m}\n'
     '    tools: ["calc\\n"]\n', "agents[0].tools[0]"),
    ("MCP prefix", HEAD + 'tools:\n  m: {type: mcp, url: "http://h/mcp", prefix: "gh_\\n"}\n',
     "tools.m.prefix"),
    ("python function", HEAD + 'tools:\n  t: {type: python, function: "os:getcwd\\n"}\n',
     "tools.t.function"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "path"), [case[1:] for case in NEWLINE_NAMES], ids=[c[0] for c in NEWLINE_NAMES]
)
def test_names_with_a_trailing_newline_are_refused(tmp_path: Path, text: str, path: str) -> None:
    """``^...$`` in Python's re matches before a final newline; the schema's patterns are
    ECMA-262's (as editors check them), where ``$`` is the end: "a\\n" is not a name."""
    errors, config = _check(tmp_path, text)
    assert config is None
    assert any(
        e.path == path and "is not valid" in e.message.replace(" a ", " ") for e in errors
    ), [str(e) for e in errors]


def test_an_environment_reference_with_a_newline_in_its_name_is_malformed(
    tmp_path: Path,
) -> None:
    text = 'version: 1\nproviders:\n  o: {type: openai, api_key: "${KEY\\n}"}\n'
    config, issues = check_config([_write(tmp_path, text)], environ={"KEY\n": "x", "KEY": "y"})
    assert config is None
    assert [(i.path, i.message) for i in issues if i.severity == "error"] == [
        ("providers.o.api_key", "malformed reference '${KEY\\n}'")
    ]


def test_the_prefix_error_states_the_rule(tmp_path: Path) -> None:
    text = HEAD + "tools:\n  m: {type: mcp, url: 'http://h/mcp', prefix: 'gh tools'}\n"
    errors, _ = _check(tmp_path, text)
    assert [e.path for e in errors] == ["tools.m.prefix"]
    assert errors[0].hint is not None
    assert "letters, digits, '_' or '-', at most 32 characters" in errors[0].hint


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agents.yaml"
    path.write_text(text, encoding="utf-8")
    return path
