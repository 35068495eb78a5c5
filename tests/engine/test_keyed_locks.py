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


async def test_waiters_take_turns_in_order() -> None:
    locks = KeyedLocks()
    order: list[int] = []
    await locks.acquire("s")

    async def wait(number: int) -> None:
        async with locks.hold("s"):
            order.append(number)

    tasks = [asyncio.create_task(wait(n)) for n in range(5)]
    await asyncio.sleep(0)  # every waiter queues
    locks.release("s")
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3, 4]
    assert len(locks) == 0


async def test_a_waiter_cancelled_as_the_lock_reaches_it_passes_it_on() -> None:
    locks = KeyedLocks()
    await locks.acquire("s")
    first = asyncio.create_task(locks.acquire("s"))
    second = asyncio.create_task(locks.acquire("s"))
    await asyncio.sleep(0)  # both queue
    locks.release("s")  # handed to the first...
    first.cancel()  # ...which is cancelled before it could take it
    await asyncio.gather(first, return_exceptions=True)
    await asyncio.wait_for(second, 1)  # the second holds it now
    assert locks.busy("s")
    locks.release("s")
    assert len(locks) == 0
