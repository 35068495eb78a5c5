"""The shared test helpers themselves: waiting on a condition, the frozen clock, free ports."""

from __future__ import annotations

import asyncio
import socket

import pytest
from helpers.clock import FROZEN, FrozenClock
from helpers.net import free_port
from helpers.waiting import wait_until


async def test_wait_until_returns_once_the_condition_holds() -> None:
    flag = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, flag.set)
    waited = await wait_until(flag.is_set, timeout=5)
    assert flag.is_set() and 0.03 < waited < 5


async def test_wait_until_awaits_an_async_predicate_and_names_what_timed_out() -> None:
    async def never() -> bool:
        return False

    with pytest.raises(AssertionError, match=r"timed out after 0\.05 s waiting for the moon"):
        await wait_until(never, timeout=0.05, what="the moon")


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock()
    assert clock() == FROZEN
    clock.advance(90)
    assert (clock() - FROZEN).total_seconds() == 90


def test_free_port_can_be_bound() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))
