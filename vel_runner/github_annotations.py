"""GitHub Actions workflow commands: the annotations ``--format github`` prints, which GitHub
shows on the lines of a pull request (``validate``'s config errors, ``eval``'s failed cases).

Only the standard library: the commands that print them start fast.
"""

from __future__ import annotations


def escape(text: str, *, prop: bool = False) -> str:
    """GitHub workflow-command escaping (properties also escape ``:`` and ``,``)."""
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def annotation(
    level: str, message: str, *, file: str, line: int, title: str, column: int | None = None
) -> str:
    """One ``::error file=...,line=...,title=...::message`` line (``level``: error, warning,
    notice), newline included."""
    props = f"file={escape(file, prop=True)},line={line}"
    if column is not None:
        props += f",col={column}"
    props += f",title={escape(title, prop=True)}"
    return f"::{level} {props}::{escape(message)}\n"


__all__ = ["annotation", "escape"]
