"""``${VAR}`` and ``${VAR:-default}`` in config values, read from the environment.

Secrets stay out of the file this way. The result remembers which variables a value used and
which were unset, so validation can report an unset variable only where it matters (an
agent that needs it) and messages can show the ``${NAME}`` text instead of a secret value.
``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UNCLOSED = re.compile(r"(?<!\$)\$\{[^}]*$")


@dataclass(frozen=True, slots=True)
class Interpolation:
    """One value after substitution, with what it read."""

    #: The text as written in the file, e.g. ``${OPENAI_API_KEY}`` (safe to print).
    raw: str
    #: The substituted text; where a variable is missing, its ``${...}`` text is kept.
    value: str
    names: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    #: ``${...}`` references that are not ``NAME`` or ``NAME:-default``.
    malformed: tuple[str, ...] = ()


def has_reference(text: str) -> bool:
    """Cheap test before :func:`interpolate`."""
    return "${" in text


def interpolate(text: str, environ: Mapping[str, str]) -> Interpolation:
    """Substitute every reference in ``text`` from ``environ``.

    ``${NAME:-default}`` uses ``default`` when ``NAME`` is unset or empty; ``${NAME}`` with
    ``NAME`` unset is recorded in ``missing`` (and left as written).
    """
    names: list[str] = []
    missing: list[str] = []
    malformed: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        body = match.group(1)
        name, has_default, default = body.partition(":-")
        if not _NAME.fullmatch(name):
            malformed.append(match.group(0))
            return match.group(0)
        names.append(name)
        found = environ.get(name)
        if found:
            return found
        if has_default:
            return default
        if found is None:
            missing.append(name)
            return match.group(0)
        return found  # set but empty, no default: empty is what was asked for

    value = _REFERENCE.sub(substitute, text)
    malformed.extend(match.group(0) for match in _UNCLOSED.finditer(text))
    return Interpolation(text, value, tuple(names), tuple(missing), tuple(malformed))


def written_text(text: str) -> str:
    """``text`` without its references: only what the file itself says (a ``:-default`` is
    written in the file, so it stays)."""

    def keep(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        return match.group(1).partition(":-")[2]

    return _REFERENCE.sub(keep, text)


__all__ = ["Interpolation", "has_reference", "interpolate", "written_text"]
