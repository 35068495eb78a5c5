"""A throwaway PostgreSQL server for the tests and benchmarks (a pytest plugin).

``postgres_dsn`` (session scope) is ``POSTGRES_DSN`` when it is set; otherwise this module
runs ``initdb`` and ``pg_ctl`` in a temporary directory on a free loopback port and stops the
server at the end. PostgreSQL refuses to run as root, so when we are root (CI) the server runs
as the ``postgres`` OS user through ``runuser``. Without server binaries the tests fail (never
skip) with a message that says how to install them.

Fixtures:

- ``postgres_dsn``: the DSN of a server shared by the whole run (do not stop it).
- ``fresh_postgres_dsn``: a new, empty database on that server for one test, dropped after
  (made ahead and dropped behind by a :class:`DatabaseSupply`).
- ``private_pg_server``: a :class:`PgServer` of its own for one test, which the test may
  ``stop()`` and ``start()`` (the fault tests).
"""

from __future__ import annotations

import contextlib
import glob
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .net import free_port

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found, and POSTGRES_DSN is not set.\n"
    "Install PostgreSQL so the tests can start their own throwaway server:\n"
    "  Debian/Ubuntu: sudo apt-get install postgresql  "
    "(binaries in /usr/lib/postgresql/<version>/bin)\n"
    "  macOS:         brew install postgresql@16\n"
    "or point the tests at an existing server (they create and drop their own databases):\n"
    "  export POSTGRES_DSN=postgresql://user:password@localhost:5432/postgres"
)

#: Server settings for tests: fast, not crash-safe (a test server holds nothing of value).
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class PgBinariesMissing(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_pg_bin() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: PATH first, then Debian/Homebrew paths."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    packaged = [*glob.glob("/usr/lib/postgresql/*/bin")]
    packaged += glob.glob("/opt/homebrew/opt/postgresql*/bin")
    candidates = [*sorted(packaged, reverse=True), "/usr/local/pgsql/bin"]
    for directory in candidates:
        if (Path(directory) / "initdb").exists() and (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    raise PgBinariesMissing(INSTALL_HINT)


class PgServer:
    """One PostgreSQL cluster in a temporary directory, owned by this process."""

    def __init__(self, settings: dict[str, str] | None = None, max_connections: int = 300) -> None:
        self.bin = find_pg_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="vel-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.settings = {"max_connections": str(max_connections), **(settings or {})}
        self.user = "vel"
        self._as_other_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            self._as_other_user = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")
        self._initdb()

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *argv: str) -> None:
        command = [*self._as_other_user, *argv]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n{log[-2000:]}"
            )

    def _initdb(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    def start(self) -> None:
        options = [f"-p {self.port}", "-c listen_addresses=127.0.0.1", f"-k {self.root}"]
        options += [f"-c {key}={value}" for key, value in self.settings.items()]
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            " ".join(options),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def start_server(settings: dict[str, str] | None = None) -> PgServer:
    """Start a throwaway server (tests and benchmarks); call ``destroy()`` when done."""
    server = PgServer(settings)
    try:
        server.start()
    except BaseException:
        server.destroy()
        raise
    return server


def create_database(admin_dsn: str, name: str) -> str:
    """Create database ``name`` on the server of ``admin_dsn``; return its DSN."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return str(psycopg.conninfo.make_conninfo(admin_dsn, dbname=name))


def drop_database(admin_dsn: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))


def _require_server() -> PgServer:
    try:
        return start_server(FAST_SETTINGS)
    except PgBinariesMissing as exc:
        pytest.fail(str(exc), pytrace=False)


class DatabaseSupply:
    """New empty databases on one server, made ahead and dropped behind in a thread of their
    own: a test gets a database that is ready, and does not wait for the last one's drop
    (both cost a few hundred milliseconds on a loaded machine, for every database test)."""

    def __init__(self, admin_dsn: str, ahead: int = 2) -> None:
        self.admin_dsn = admin_dsn
        self._ready: queue.Queue[tuple[str, str] | BaseException] = queue.Queue(ahead)
        self._doomed: queue.Queue[str] = queue.Queue()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._work, name="vel-test-databases", daemon=True)
        self._thread.start()

    def take(self) -> tuple[str, str]:
        """``(name, dsn)`` of a new empty database, for one test."""
        made = self._ready.get(timeout=120)
        if isinstance(made, BaseException):
            raise made
        return made

    def give_back(self, name: str) -> None:
        """Drop ``name`` (soon, not now)."""
        self._doomed.put(name)

    def _work(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(queue.Empty):  # drops first: they free the server
                # with every database made ahead, wait here for a drop (or a free place)
                name = self._doomed.get(timeout=0.05) if self._ready.full() else None
                drop_database(self.admin_dsn, name or self._doomed.get_nowait())
                continue
            if self._ready.full():
                continue
            name = f"vel_test_{uuid.uuid4().hex[:12]}"
            try:
                made: tuple[str, str] | BaseException = (
                    name,
                    create_database(self.admin_dsn, name),
                )
            except Exception as exc:  # the test that takes it fails with it
                made = exc
            self._ready.put(made)

    def close(self) -> None:
        """Stop making databases; drop what is left (made ahead, or given back)."""
        self._closing.set()
        self._thread.join(30)
        leftovers = []
        while not self._ready.empty():
            made = self._ready.get_nowait()
            if not isinstance(made, BaseException):
                leftovers.append(made[0])
        while not self._doomed.empty():
            leftovers.append(self._doomed.get_nowait())
        for name in leftovers:
            with contextlib.suppress(Exception):
                drop_database(self.admin_dsn, name)


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A PostgreSQL DSN for the whole run: ``POSTGRES_DSN`` or a throwaway server."""
    env = os.environ.get("POSTGRES_DSN")
    if env:
        yield env
        return
    server = _require_server()
    try:
        yield server.dsn
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def database_supply(postgres_dsn: str) -> Iterator[DatabaseSupply]:
    supply = DatabaseSupply(postgres_dsn)
    try:
        yield supply
    finally:
        supply.close()


@pytest.fixture
def fresh_postgres_dsn(database_supply: DatabaseSupply) -> Iterator[str]:
    """A new empty database for one test (dropped afterwards), so tests never see each other."""
    name, dsn = database_supply.take()
    try:
        yield dsn
    finally:
        database_supply.give_back(name)


@pytest.fixture
def private_pg_server() -> Iterator[PgServer]:
    """A server of this test's own, which it may stop and start again (fault tests)."""
    server = _require_server()
    try:
        yield server
    finally:
        server.destroy()


def wait_until_accepting(dsn: str, timeout: float = 30.0) -> None:
    """Block until the server at ``dsn`` accepts connections."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(dsn, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
