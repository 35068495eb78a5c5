"""Logs that name their request: the ``X-Request-Id`` of the request being served (a context
variable the server's middleware sets), JSON lines for ``--log-format json``, and one line per
finished turn with its agent, session, run id and duration.

Secrets the server knows (its API key) are registered with :func:`add_secret` and replaced by
``***`` in every JSON line, whatever logged them.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from ..redact import remember_secrets
from . import hooks

#: The id of the request this code runs for (``None`` outside requests).
REQUEST_ID: ContextVar[str | None] = ContextVar("vel_request_id", default=None)

#: What a client may send as its own ``X-Request-Id``; anything else is replaced.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:/@+=-]{1,128}$")
#: Context fields a JSON line carries when the record (``extra=``) has them.
FIELDS = ("agent", "session", "run_id", "duration", "outcome", "status")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',]+")

_secrets: set[str] = set()
log = logging.getLogger("vel_runner.turns")


def add_secret(secret: str | None) -> None:
    """Never print ``secret`` in a JSON log line (nor in any text :func:`~vel_runner.redact.
    redact` cleans: an error a tool raised, say)."""
    if secret and len(secret) >= 4:
        _secrets.add(secret)
        remember_secrets([secret])


def scrub(text: str) -> str:
    """``text`` without the registered secrets and bearer tokens."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return _BEARER.sub(r"\1***", text) if "earer" in text else text


def accepted_request_id(value: str | None) -> str | None:
    """The client's ``X-Request-Id`` if it is a sane token, else ``None``."""
    return value if value is not None and REQUEST_ID_PATTERN.fullmatch(value) else None


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and the turn's
    agent, session, run id and duration when known."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TurnLog:
    """The hooks observer that logs each finished turn (``level``: INFO for JSON logs,
    DEBUG beside the plain access log)."""

    def __init__(self, level: int = logging.INFO) -> None:
        self.level = level

    def started(self, step: hooks.Step) -> None:
        return None

    def ended(self, step: hooks.Step) -> None:
        if step.kind != "turn" or not log.isEnabledFor(self.level):
            return
        level = self.level if step.outcome == "ok" else max(self.level, logging.WARNING)
        log.log(
            level,
            "turn of %s %s in %.1f ms",
            step.agent,
            step.outcome,
            step.seconds * 1000,
            extra={
                "agent": step.agent,
                "session": step.session,
                "run_id": step.run_id,
                "duration": round(step.seconds, 6),
                "outcome": step.outcome,
            },
        )
