"""Secrets never printed: DSN passwords (also of DSNs the driver cannot parse), URL
credentials and API keys, in the text helpers and on every surface that shows a database
error: ``vel-runner serve``'s stderr, ``vel-runner migrate``, StoreUnavailableError and the
lost-LISTEN warning."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.net import free_port
from helpers.paths import REPO_ROOT
from helpers.server import DATABASE_CONFIG
from helpers.waiting import wait_until

from vel_runner.errors import StoreUnavailableError
from vel_runner.storage import create_store
from vel_runner.storage.pg_events import NotifyRelay

ROOT = REPO_ROOT
PASSWORD = "hunter2-secret"
#: DSNs the driver cannot parse; each error message used to quote the DSN, password and all.
MALFORMED_DSNS = [
    f"postgresql//vel:{PASSWORD}@127.0.0.1/vel",  # "://" missing its colon
    f"vel:{PASSWORD}@127.0.0.1/vel",  # no scheme at all
    f"postgresql://vel:{PASSWORD}@[::1/vel",  # unterminated IPv6 host
    f"host=127.0.0.1 password='{PASSWORD}' stray",  # key/value with a stray word
]


# -- the text helpers ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://vel:pw@db/x", "postgresql://vel:***@db/x"),
        ("postgresql//vel:pw@db/x", "postgresql//vel:***@db/x"),
        ('missing "=" after "vel:pw@db/x" in', 'missing "=" after "vel:***@db/x" in'),
        ("postgresql://:pw@db/x", "postgresql://:***@db/x"),
        ("https://bob:p@ss@gw.example/v1", "https://bob:***@gw.example/v1"),
        ("host=db password=pw port=5", "host=db password=*** port=5"),
        ("host=db password = 'p w' port=5", "host=db password = *** port=5"),
        (r"host=db password='p \' w' port=5", "host=db password=*** port=5"),
        ("host=db password='never closed", "host=db password=***"),
        ("sslpassword=pw host=db", "sslpassword=*** host=db"),
        ("postgresql://vel@db/x?a=1&password=pw&b=2", "postgresql://vel@db/x?a=1&password=***&b=2"),
        ("Incorrect API key provided: sk-proj-abc123XYZ.", "Incorrect API key provided: sk-***."),
        ("key sk-proj-**********abcd", "key sk-***"),
    ],
)
def test_credentials_are_hidden_without_parsing(text: str, shown: str) -> None:
    from vel_runner.redact import redact

    assert redact(text) == shown


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://vel@db:5432/x",
        "https://gw.example:8443/v1",
        "connection refused at 10:30 on host:5432",
        "user@example.com said: no",
        "ask-me-anything is not an sk- key",
    ],
)
def test_text_without_credentials_is_left_alone(text: str) -> None:
    from vel_runner.redact import redact

    assert redact(text) == text


def test_known_secrets_are_hidden_wherever_they_appear() -> None:
    from vel_runner.redact import redact

    assert redact("auth failed for sk-abcdef", ["sk-abcdef", "ab"]) == "auth failed for ***"
    assert redact("the key gateway-key-1 was refused", ["gateway-key-1"]) == (
        "the key *** was refused"
    )
    assert redact("abc", ["abc"]) == "abc"  # too short to replace blindly


def test_credentials_in_reads_values_as_written() -> None:
    from vel_runner.redact import credentials_in, dsn_secrets

    assert credentials_in("postgresql://vel:${PW}@db/x") == ["${PW}"]
    assert credentials_in("host=db password='p w'") == ["p w"]
    assert credentials_in("postgresql://vel@db/x") == []
    assert credentials_in("https://gw.example/v1") == []
    assert "p@ss" in dsn_secrets("postgresql://vel:p%40ss@db/x")  # decoded too, when it parses


def test_describe_dsn_never_shows_the_password() -> None:
    from vel_runner.redact import describe_dsn

    assert describe_dsn(f"postgresql://vel:{PASSWORD}@db:6543/x") == "db:6543/x"
    for dsn in MALFORMED_DSNS:
        assert PASSWORD not in describe_dsn(dsn)


# -- every surface -----------------------------------------------------------------------
@pytest.mark.parametrize("dsn", MALFORMED_DSNS)
async def test_store_unavailable_error_hides_the_password(dsn: str) -> None:
    store = create_store("database", dsn=dsn, timeout=1, name="pg")
    try:
        with pytest.raises(StoreUnavailableError) as caught:
            await store.open()
        with pytest.raises(StoreUnavailableError) as caught_sync:
            await asyncio.to_thread(store.get_sync, "a", "s")
    finally:
        await store.close()
    for error in (caught.value, caught_sync.value):
        assert str(error).startswith("session database unavailable")
        assert PASSWORD not in str(error)


@pytest.mark.parametrize("dsn", MALFORMED_DSNS[:2])
async def test_a_malformed_dsn_never_reaches_the_pool_log(
    dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    store = create_store("database", dsn=dsn, timeout=1, migrate=False, name="pg")
    try:
        with pytest.raises(StoreUnavailableError, match="missing"):
            await store.open()  # at once, not after the pool tried (and logged) for a while
    finally:
        await store.close()
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("dsn", MALFORMED_DSNS)
async def test_lost_listen_warning_hides_the_password(
    dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="vel_runner")
    relay = NotifyRelay(dsn, "origin", lambda *event: None, connect_timeout=1, max_backoff=0.1)
    relay.start()
    try:
        await wait_until(lambda: "lost LISTEN connection" in caplog.text, timeout=2)
    finally:
        await relay.stop()
    assert "lost LISTEN connection" in caplog.text
    assert PASSWORD not in caplog.text


@pytest.mark.parametrize("dsn", MALFORMED_DSNS)
async def test_a_reload_to_a_malformed_dsn_fails_without_the_password(
    dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vel_runner.runtime import Runtime

    path = tmp_path / "agents.yaml"
    path.write_text(DATABASE_CONFIG.replace("store: pg", "store: memory"))
    monkeypatch.setenv("POSTGRES_DSN", dsn)
    async with await Runtime.from_paths([path], watch=False, close_grace=0) as runtime:
        path.write_text(DATABASE_CONFIG)
        assert await runtime.reload() is False
        error = runtime.last_error
    assert error is not None and error.path == "stores.pg"
    assert "could not be opened: StoreUnavailableError: session database unavailable" in str(error)
    assert PASSWORD not in str(error)


def _run_cli(*args: str, dsn: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POSTGRES_DSN": dsn}
    return subprocess.run(
        [sys.executable, "-m", "vel_runner.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("dsn", MALFORMED_DSNS)
def test_serve_start_failure_hides_the_password(dsn: str, tmp_path: Path) -> None:
    config = tmp_path / "agents.yaml"
    config.write_text(DATABASE_CONFIG)
    port = str(free_port())
    done = _run_cli("serve", "-c", str(config), "--no-reload", "--port", port, dsn=dsn)
    assert done.returncode == 2, done.stderr
    assert "vel-runner serve: session database unavailable" in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("dsn", MALFORMED_DSNS)
def test_migrate_failure_hides_the_password(dsn: str) -> None:
    for done in (_run_cli("migrate", "--timeout", "1", dsn=dsn),
                 _run_cli("migrate", "--timeout", "1", "--dsn", dsn, dsn="")):  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: session database unavailable")
        assert PASSWORD not in done.stderr + done.stdout


#: A password with an unencoded "@": the driver ends it at the first "@" and takes the rest
#: for the host, which it then quotes in its errors ("failed to resolve host '...'").
AT_PASSWORD_HALVES = ("3xyz", "SECRETpart")


@pytest.mark.parametrize(
    "command",
    [
        ("sessions", "cleanup", "--older-than", "30d"),
        ("migrate", "--timeout", "2"),
        ("serve", "--no-reload"),
    ],
    ids=["sessions-cleanup", "migrate", "serve"],
)
def test_no_part_of_a_password_with_an_unencoded_at_is_printed(
    command: tuple[str, ...], tmp_path: Path
) -> None:
    first, second = AT_PASSWORD_HALVES
    dsn = f"postgresql://user:{first}@{second}@127.0.0.1:{free_port()}/db?connect_timeout=2"
    config = tmp_path / "agents.yaml"
    config.write_text(DATABASE_CONFIG)
    extra = ("-c", str(config)) if command[0] != "migrate" else ()
    if command[0] == "serve":
        extra += ("--port", str(free_port()))
    done = _run_cli(*command, *extra, dsn=dsn)
    printed = done.stderr + done.stdout
    assert done.returncode == 2, printed
    assert "session database unavailable" in printed and "127.0.0.1" in printed
    assert first not in printed and second not in printed, printed
    assert "Traceback" not in printed


def test_dsn_secrets_cover_the_part_the_driver_takes_for_the_host() -> None:
    from vel_runner.redact import describe_dsn, dsn_secrets, redact

    dsn = "postgresql://user:ab@cd@127.0.0.1:5/db"
    assert describe_dsn(dsn) == "***@127.0.0.1:5/db"
    message = "failed to resolve host 'cd@127.0.0.1': Name or service not known"
    assert redact(message, dsn_secrets(dsn)) == (
        "failed to resolve host '***@127.0.0.1': Name or service not known"
    )


def test_remembered_secrets_are_hidden_everywhere_but_placeholders_are_not() -> None:
    from vel_runner.redact import redact, remember_secrets, remembered_secrets

    remember_secrets(["gw-token-7788-remembered", "unused", None, ""])
    assert "gw-token-7788-remembered" in remembered_secrets()
    assert "unused" not in remembered_secrets()  # a placeholder key, not a word to hide
    assert redact("refused gw-token-7788-remembered; the key is unused") == (
        "refused ***; the key is unused"
    )
