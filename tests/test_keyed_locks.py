import asyncio

from vel_runner.storage.keyed_locks import KeyedLocks


async def test_a_lock_exists_only_while_held_or_awaited() -> None:
    locks = KeyedLocks()
    assert not locks.busy("a")
    async with locks.hold("a"):
        assert locks.busy("a")
        assert len(locks) == 1
    assert not locks.busy("a")
    assert len(locks) == 0


async def test_holders_of_one_key_run_one_at_a_time_and_other_keys_do_not_wait() -> None:
    locks = KeyedLocks()
    order: list[str] = []
    gate = asyncio.Event()

    async def first() -> None:
        async with locks.hold("s"):
            order.append("first-in")
            await gate.wait()
            order.append("first-out")

    async def second() -> None:
        async with locks.hold("s"):
            order.append("second")

    async def other() -> None:
        async with locks.hold("t"):
            order.append("other")

    t1 = asyncio.create_task(first())
    await asyncio.sleep(0)
    t2 = asyncio.create_task(second())
    await other()
    assert order == ["first-in", "other"]
    gate.set()
    await asyncio.gather(t1, t2)
    assert order == ["first-in", "other", "first-out", "second"]
    assert len(locks) == 0


async def test_a_cancelled_waiter_leaves_no_lock_behind() -> None:
    locks = KeyedLocks()
    await locks.acquire("s")
    waiter = asyncio.create_task(locks.acquire("s"))
    await asyncio.sleep(0)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    locks.release("s")
    assert len(locks) == 0
