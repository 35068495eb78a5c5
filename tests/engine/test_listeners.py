import logging

import pytest

from vel_runner.listeners import Listeners


def test_every_listener_gets_the_event_and_a_broken_one_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    listeners: Listeners[int] = Listeners()
    seen: list[int] = []

    def broken(event: int) -> None:
        raise ValueError("boom")

    listeners.add(broken)
    listeners.add(seen.append)
    with caplog.at_level(logging.ERROR):
        listeners.emit(7)
    assert seen == [7]
    assert "boom" in caplog.text


def test_remove_takes_out_only_the_one_added_and_twice_is_harmless() -> None:
    listeners: Listeners[str] = Listeners()
    first: list[str] = []
    second: list[str] = []
    remove_first = listeners.add(first.append)
    listeners.add(second.append)
    remove_first()
    remove_first()
    listeners.emit("x")
    assert (first, second) == ([], ["x"])
    assert len(listeners) == 1 and listeners
