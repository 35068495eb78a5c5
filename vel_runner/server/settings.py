"""``vel-runner serve`` settings, resolved once into a frozen :class:`ServeSettings`.

Each setting is its flag, else its environment variable, else the default. The workers of
``--workers N`` get the settings back from the environment (:meth:`ServeSettings.environ`,
then :meth:`ServeSettings.resolve` without flags), so a worker reads them exactly as the
command did. Standard library only: ``vel-runner serve --help`` stays fast.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LOOPBACK_NAMES = frozenset({"localhost", "ip6-localhost"})
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
LOG_FORMATS = ("plain", "json")
DEFAULT_PORT = 8000
DEFAULT_DRAIN_TIMEOUT = 30.0
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingError(SystemExit):
    """A bad environment value: ``vel-runner serve`` prints it and exits."""


def is_loopback(host: str) -> bool:
    """``127.0.0.0/8``, ``::1`` or ``localhost``."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """The effective settings of one ``vel-runner serve``."""

    paths: tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    reload: bool = True
    workers: int = 1
    api_key: str | None = None
    insecure: bool = False
    drain_timeout: float = DEFAULT_DRAIN_TIMEOUT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    log_level: str = "info"
    access_log: bool = True
    metrics: bool = True
    metrics_public: bool = False
    log_format: str = "plain"
    #: Browser origins allowed to call the API (CORS); empty: CORS is off.
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, environ: Mapping[str, str] | None = None
    ) -> ServeSettings:
        """The settings of a parsed command line (flags of :func:`command.configure`)."""
        return cls.resolve(vars(args), os.environ if environ is None else environ)

    @classmethod
    def resolve(cls, flags: Mapping[str, Any], environ: Mapping[str, str]) -> ServeSettings:
        """Flags first (``None``/absent: not given), then ``environ``, then the defaults."""
        env = _Env(environ)
        paths = flags.get("config") or [p for p in env.text("VEL_CONFIG").split(os.pathsep) if p]
        log_level = flags.get("log_level") or env.text("VEL_LOG_LEVEL", "info").strip().lower()
        log_format = flags.get("log_format") or env.text("VEL_LOG_FORMAT", "plain").strip().lower()
        if log_format not in LOG_FORMATS:
            raise SettingError(f"vel-runner serve: VEL_LOG_FORMAT={log_format!r} is not one of "
                               f"{', '.join(LOG_FORMATS)}")  # fmt: skip
        if log_level not in LOG_LEVELS:
            raise SettingError(f"vel-runner serve: VEL_LOG_LEVEL={log_level!r} is not one of "
                               f"{', '.join(LOG_LEVELS)}")  # fmt: skip
        return cls(
            paths=tuple(os.path.abspath(p) for p in (paths or ["agents.yaml"])),
            host=flags.get("host") or env.text("VEL_HOST", "127.0.0.1"),
            port=env.number("VEL_PORT", int, DEFAULT_PORT, flags.get("port")),
            reload=not flags.get("no_reload") and env.flag("VEL_RELOAD", True),
            workers=env.number("VEL_WORKERS", int, 1, flags.get("workers")),
            api_key=flags.get("api_key") or env.text("VEL_API_KEY") or None,
            insecure=bool(flags.get("insecure")) or env.flag("VEL_INSECURE", False),
            drain_timeout=env.number(
                "VEL_DRAIN_TIMEOUT", float, DEFAULT_DRAIN_TIMEOUT, flags.get("drain_timeout")
            ),
            max_body_bytes=env.number(
                "VEL_MAX_BODY_BYTES", int, DEFAULT_MAX_BODY_BYTES, flags.get("max_body_bytes")
            ),
            log_level=log_level,
            access_log=not flags.get("no_access_log"),
            metrics=not flags.get("no_metrics") and env.flag("VEL_METRICS", True),
            metrics_public=bool(flags.get("metrics_public"))
            or env.flag("VEL_METRICS_PUBLIC", False),
            log_format=log_format,
            cors_origins=parse_cors_origins(flags.get("cors_origin"), env.text("VEL_CORS_ORIGINS")),
        )

    def refusal(self) -> str | None:
        """Why these settings must not start a server, or ``None``."""
        if self.workers < 1:
            return f"--workers must be at least 1, got {self.workers}"
        if not 0 <= self.port <= 65535:
            return f"--port must be 0-65535, got {self.port}"
        if self.max_body_bytes < 1024:
            return f"--max-body-bytes must be at least 1024, got {self.max_body_bytes}"
        if not is_loopback(self.host) and not self.api_key and not self.insecure:
            return (
                f"refusing to serve on {self.host!r} without an API key: anyone who can "
                "reach it could run the agents and read every session. Set VEL_API_KEY (or "
                "--api-key), bind 127.0.0.1, or pass --insecure if a proxy in front "
                "authenticates."
            )
        return None

    def environ(self) -> dict[str, str]:
        """What a worker process needs to resolve the same app settings from its environment."""
        env = {
            "VEL_CONFIG": os.pathsep.join(self.paths),
            "VEL_RELOAD": "1" if self.reload else "0",
            "VEL_MAX_BODY_BYTES": str(self.max_body_bytes),
            "VEL_METRICS": "1" if self.metrics else "0",
            "VEL_METRICS_PUBLIC": "1" if self.metrics_public else "0",
            "VEL_LOG_FORMAT": self.log_format,
        }
        if self.api_key:
            env["VEL_API_KEY"] = self.api_key
        if self.cors_origins:
            env["VEL_CORS_ORIGINS"] = ",".join(self.cors_origins)
        return env


#: ``scheme://host[:port]``, as browsers send it in ``Origin`` (no path, no trailing slash).
_ORIGIN = re.compile(r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")


def parse_cors_origins(flags: list[str] | None, environ_value: str) -> tuple[str, ...]:
    """The ``--cors-origin`` flags, else ``VEL_CORS_ORIGINS`` (comma-separated); each an
    origin exactly as a browser sends it, or ``*`` for any origin."""
    source = "--cors-origin" if flags else "VEL_CORS_ORIGINS"
    values = flags if flags else environ_value.split(",")
    origins: list[str] = []
    for value in (v.strip() for v in values):
        if not value:
            continue
        if value != "*" and not _ORIGIN.fullmatch(value):
            hint = " (no trailing slash)" if value.endswith("/") else ""
            raise SettingError(
                f"vel-runner serve: {source} {value!r} is not an origin: write "
                f"scheme://host[:port] as the browser's address bar shows it{hint}, e.g. "
                "http://localhost:5173, or * for any origin"
            )
        if value not in origins:
            origins.append(value)
    return tuple(origins)


class _Env:
    """Typed reads of environment variables; a bad value names the variable and the value."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def text(self, name: str, default: str = "") -> str:
        return self.environ.get(name) or default

    def flag(self, name: str, default: bool) -> bool:
        value = self.environ.get(name, "").strip().lower()
        if not value:
            return default
        if value in _TRUE or value in _FALSE:
            return value in _TRUE
        raise SettingError(f"vel-runner serve: {name}={value!r} is not one of 1/0, true/false, "
                           "yes/no, on/off")  # fmt: skip

    def number(self, name: str, kind: type[int] | type[float], default: Any, flag: Any) -> Any:
        """``flag`` when given, else the variable as ``kind``, else ``default``."""
        if flag is not None:
            return flag
        value = self.environ.get(name)
        if not value:
            return default
        try:
            return kind(value)
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise SettingError(f"vel-runner serve: {name}={value!r} is not {noun}") from None


__all__ = ["LOG_LEVELS", "ServeSettings", "SettingError", "is_loopback", "parse_cors_origins"]
