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


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every credential hidden: the ``secrets`` given (wherever they appear)
    and anything shaped like one (see the module docstring)."""
    known = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
    for secret in sorted(known, key=len, reverse=True):
        text = text.replace(secret, MASK)
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


def dsn_secrets(dsn: str) -> list[str]:
    """What in ``dsn`` must never be shown: its passwords, found by pattern (so a malformed
    DSN is covered) and, when the DSN parses, the decoded password (``p%40ss`` -> ``p@ss``)."""
    secrets = credentials_in(dsn)
    try:
        from psycopg.conninfo import conninfo_to_dict

        password = conninfo_to_dict(dsn).get("password")
    except Exception:  # malformed, or no driver here: the patterns found what there is
        password = None
    if password:
        secrets.append(str(password))
    return secrets


def describe_dsn(dsn: str) -> str:
    """``host:port/dbname`` of a DSN, never its password (a DSN that does not parse is
    described without any of its text)."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
    except Exception:
        return "the configured PostgreSQL server"
    host = parts.get("host") or parts.get("hostaddr") or "localhost"
    return redact(f"{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}")


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
    "store_unavailable",
]
