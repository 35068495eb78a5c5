"""parse_duration: the one duration syntax of agents.yaml, the server and the dashboard."""

from __future__ import annotations

import re

import pytest

from vel_runner.durations import DURATION_PATTERN, format_duration, parse_duration
from vel_runner.errors import InvalidInputError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (0, 0.0),
        (90, 90.0),
        (1.5, 1.5),
        ("45", 45.0),
        ("250ms", 0.25),
        ("30s", 30.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("1.5h", 5400.0),
        ("7d", 604800.0),
        ("2w", 1209600.0),
        (" 10 m ", 600.0),
    ],
)
def test_parses_numbers_and_units(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "bad", ["", "1 hour", "h", "-5", "5x", "1h30m", True, None, [1], -1, float("inf")]
)
def test_rejects_bad_values_naming_them(bad: object) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_duration(bad)  # type: ignore[arg-type]
    assert "invalid duration" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_the_schema_uses_the_same_pattern() -> None:
    from vel_runner.config.schema import definition

    assert definition("duration")["pattern"] == DURATION_PATTERN
    assert re.match(DURATION_PATTERN, "7d")


@pytest.mark.parametrize(
    ("seconds", "text"), [(3600, "1h"), (90, "90s"), (604800, "1w"), (0.5, "0.5s")]
)
def test_format_duration_round_trips(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds
