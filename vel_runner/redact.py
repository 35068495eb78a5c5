"""One home for hiding secrets in what vel-runner prints, logs or returns: DSN passwords, URL
credentials, API keys.

Redaction never relies on parsing: a DSN that the driver could not parse is exactly the one
whose error message echoes it whole (``missing "=" after "user:pw@host/db"``). The shapes a
credential takes are found by pattern instead, in any text: ``user:password@`` (with or
without a scheme, ``://`` or not), ``password=...`` (quoted or not, ``sslpassword`` too, in
key/value DSNs and URL queries) and ``sk-...`` API keys; secrets known by value (a configured
key, a parsed password) are replaced wherever they appear. Only the standard library is
imported at module level (``vel-runner validate`` uses this).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .errors import StoreUnavailableError

MASK = "***"
#: Secrets known by value are replaced only from this length on: a two-letter password would
#: otherwise turn every occurrence of those letters in a message into ``***``.
MIN_SECRET_LENGTH = 4

#: ``user:password@``: the password runs to the last ``@`` of the word, so an unencoded ``@``
#: in it is hidden too; the user stays (it helps, and it is no secret). ``scheme://user@`` is
#: no password: ``//`` cannot start one.
_USERINFO = re.compile(r"(?P<user>[^\s\"'`:/@<>]*):(?P<secret>(?!//)\S*)@")
#: ``password=value`` in a URL query: the value ends at ``&``.
_QUERY = re.compile(r"(?P<key>[?&][A-Za-z_]*password=)(?P<secret>[^&#\s]*)", re.IGNORECASE)
#: ``password = value`` in a key/value DSN: a quoted value (libpq's ``'...'`` with ``\``
#: escapes, unterminated: to the end) or up to the next whitespace.
_KEY_VALUE = re.compile(
    r"(?P<key>(?<![\w.?&-])[A-Za-z_]*password\s*=\s*)"
    r"(?P<secret>'(?:\\.|[^'\\])*(?:'|$)|\S+)",
    re.IGNORECASE,
)
#: OpenAI-style keys (``sk-...``, ``sk-proj-...``), also as servers echo them half-starred.
_API_KEY = re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_*-]{6,}")

#: Secrets this process was given (configured keys, DSN passwords, MCP credentials): every
#: :func:`redact` hides them, whoever calls it, e.g. for an error a tool raised.
_remembered: set[str] = set()


#: Secrets remembered for every text are at least this long: a placeholder key such as
#: ``unused`` or ``ollama`` would otherwise turn that word into ``***`` in every message
#: (real keys and tokens are far longer; DSN passwords are also found by their shape).
MIN_REMEMBERED_LENGTH = 8


def remember_secrets(secrets: Iterable[str | None]) -> None:
    """Hide ``secrets`` in everything :func:`redact` cleans from now on, in this process."""
    _remembered.update(s for s in secrets if s and len(s) >= MIN_REMEMBERED_LENGTH)


def remembered_secrets() -> frozenset[str]:
    """The secrets :func:`remember_secrets` was given."""
    return frozenset(_remembered)


def _long_enough(secret: str) -> bool:
    """Long enough to hide by value. The rest of a password the driver took for the host
    (``ab@`` of ``ab@127.0.0.1``) is kept shorter: its ``@`` makes it specific."""
    return len(secret) >= (2 if secret.endswith("@") else MIN_SECRET_LENGTH)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every credential hidden: the ``secrets`` given and those remembered
    (wherever they appear), and anything shaped like one (see the module docstring)."""
    known = {s for s in secrets if s and _long_enough(s)} | _remembered
    for secret in sorted(known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK + "@" if secret.endswith("@") else MASK)
    text = _QUERY.sub(lambda m: m.group("key") + MASK, text)
    text = _KEY_VALUE.sub(lambda m: m.group("key") + MASK, text)
    text = _USERINFO.sub(lambda m: f"{m.group('user')}:{MASK}@", text)
    return _API_KEY.sub("sk-" + MASK, text)


def credentials_in(text: str) -> list[str]:
    """The credential values written in ``text`` (a DSN, a URL), as written: ``${VAR}``
    references stay references. Quotes around a key/value password are dropped."""
    found = [m.group("secret") for m in _USERINFO.finditer(text)]
    found += [m.group("secret") for m in _QUERY.finditer(text)]
    for match in _KEY_VALUE.finditer(text):
        value = match.group("secret")
        if value.startswith("'"):
            value = value[1:-1] if len(value) > 1 and value.endswith("'") else value[1:]
        found.append(value)
    found += [m.group(0) for m in _API_KEY.finditer(text)]
    return [value for value in found if value]


def _dsn_parts(dsn: str) -> dict[str, Any] | None:
    try:
        from psycopg.conninfo import conninfo_to_dict

        return dict(conninfo_to_dict(dsn))
    except Exception:  # malformed, or no driver here
        return None


def dsn_secrets(dsn: str) -> list[str]:
    """What in ``dsn`` must never be shown: its passwords, found by pattern (so a malformed
    DSN is covered) and, when the DSN parses, the decoded password (``p%40ss`` -> ``p@ss``).

    A password with an unencoded ``@`` (``user:3xyz@rest@db``) ends, for the driver, at the
    first ``@``: it reads ``rest@db`` as the host and echoes it in its errors (``failed to
    resolve host 'rest@db'``), so ``rest@`` is a secret too (a host never holds an ``@``).
    """
    secrets = credentials_in(dsn)
    parts = _dsn_parts(dsn) or {}
    if parts.get("password"):
        secrets.append(str(parts["password"]))
    for key in ("host", "hostaddr"):
        for host in str(parts.get(key) or "").split(","):
            if "@" in host:
                secrets.append(host.rpartition("@")[0] + "@")
    return secrets


def describe_dsn(dsn: str) -> str:
    """``host:port/dbname`` of a DSN, never its password (a DSN that does not parse is
    described without any of its text)."""
    parts = _dsn_parts(dsn)
    if parts is None:
        return "the configured PostgreSQL server"
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    described = f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"
    return redact(described, dsn_secrets(dsn))


def error_text(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """The first line of ``exc``'s message (its type name when empty), credentials hidden:
    driver and SDK messages may echo a DSN or a key."""
    text = str(exc).strip()
    return redact(text.splitlines()[0], secrets) if text else type(exc).__name__


def store_unavailable(dsn: str, exc: BaseException) -> StoreUnavailableError:
    """A clear, password-free error for a database that cannot serve us right now."""
    reason = error_text(exc, dsn_secrets(dsn))
    if type(exc).__name__ == "PoolTimeout":  # psycopg_pool's wording names no cause
        reason = f"no connection could be made in time; is the server running? ({reason})"
    return StoreUnavailableError(f"session database unavailable ({describe_dsn(dsn)}): {reason}")


__all__ = [
    "MASK",
    "credentials_in",
    "describe_dsn",
    "dsn_secrets",
    "error_text",
    "redact",
    "remember_secrets",
    "remembered_secrets",
    "store_unavailable",
]
