"""Engine benchmarks (issue 2). Run: python benchmarks/bench_engine.py [--quick]

1. Agent.run (memory store, full history) against a local OpenAI-compatible server vs a bare
   AsyncOpenAI call carrying the same history, interleaved turn by turn, at 20 and 500 turns.
   Two bare calls: ``chat.completions.create`` (what most code writes) and ``client.post``
   with the body as is (what the provider does: ``create`` walks every message through the
   SDK's TypedDict transform, a cost that grows with the history).
2. Pure runtime cost per turn with the echo provider.
3. Memory for 100,000 sessions of 10 messages.

``--against PATH`` runs part 2 only, side by side with another checkout of vel-runner (an
older commit, say: ``git worktree add /tmp/old 43581af``): the same script, in fresh
processes alternating between the two trees (CPU time), and prints the ratio of the medians.
With ``--instructions`` it counts the instructions a turn executes instead, under valgrind
(``apt-get install valgrind``): on a machine other jobs share, timings wander by a third from
run to run, while the count is the same every time.

The fake server runs in a separate process so that it does not share the client's GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers.net import free_port  # noqa: E402

from vel_runner import Agent  # noqa: E402

SERVER = """
import sys, time
sys.path.insert(0, {tests!r})
from helpers import fake_openai
fake_openai.free_port = lambda: {port}
with fake_openai.FakeOpenAI():
    print("ready", flush=True)
    sys.stdin.read()
"""


def start_fake_server() -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    code = SERVER.format(tests=str(ROOT / "tests"), port=port)
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc, f"http://127.0.0.1:{port}/v1"


async def bench_vs_bare_sdk(
    base_url: str, turns: int, conversations: int = 1
) -> tuple[float, float, float]:
    """Mean seconds per turn: Agent.run, bare ``chat.completions.create``, bare ``post``,
    over ``conversations`` conversations of ``turns`` turns (more samples, less noise).

    The two bare calls keep their own history, as a hand-written loop would; the three take
    turns going first so that drift on the machine hits each alike.
    """
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletion

    client = AsyncOpenAI(api_key="bench", base_url=base_url, max_retries=0)
    agent = Agent(
        id="bench",
        model={"provider": "openai", "model": "m", "api_key": "bench", "base_url": base_url},
    )
    _ = agent.provider.client  # type: ignore[attr-defined]  # build the client before timing
    times: dict[str, list[float]] = {"agent": [], "create": [], "post": []}
    histories: dict[str, list[dict[str, str]]] = {"create": [], "post": []}

    session = ["s0"]

    async def agent_turn(message: str) -> None:
        start = time.perf_counter()
        await agent.run({"message": message}, session_id=session[0])
        times["agent"].append(time.perf_counter() - start)

    async def create_turn(message: str) -> None:
        history = histories["create"]
        start = time.perf_counter()
        history.append({"role": "user", "content": message})
        response = await client.chat.completions.create(model="m", messages=history)
        history.append({"role": "assistant", "content": response.choices[0].message.content or ""})
        times["create"].append(time.perf_counter() - start)

    async def post_turn(message: str) -> None:
        history = histories["post"]
        start = time.perf_counter()
        history.append({"role": "user", "content": message})
        body = {"model": "m", "messages": history}
        response = await client.post("/chat/completions", body=body, cast_to=ChatCompletion)
        history.append({"role": "assistant", "content": response.choices[0].message.content or ""})
        times["post"].append(time.perf_counter() - start)

    order = [agent_turn, create_turn, post_turn]
    for conversation in range(conversations):
        session[0] = f"s{conversation}"
        for history in histories.values():
            history.clear()
        for index in range(turns):
            message = f"question number {index} " + "x" * 150
            for turn in order[index % 3 :] + order[: index % 3]:
                await turn(message)
    await client.close()
    await agent.aclose()
    return tuple(statistics.fmean(times[name]) for name in ("agent", "create", "post"))  # type: ignore[return-value]


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def bench_memory(sessions: int) -> tuple[float, float]:
    agent = Agent(id="mem", model={"provider": "echo", "model": "e"})
    gc.collect()
    before = rss_bytes()
    start = time.perf_counter()
    for index in range(sessions):
        sid = f"user-{index}"
        for turn in range(5):  # 5 turns = 10 messages
            await agent.run(f"message {turn} of a typical short conversation", session_id=sid)
    elapsed = time.perf_counter() - start
    gc.collect()
    used = rss_bytes() - before
    return used, elapsed


#: Part 2 as source, so that ``--against`` runs the very same code on another checkout.
ECHO_TURN = """
import gc, time
from vel_runner import Agent

async def bench_echo_turn(sessions, turns, clock=time.perf_counter):
    agent = Agent(id="echo", model={"provider": "echo", "model": "e"})
    ids = [f"s{i}" for i in range(sessions)]
    for sid in ids:  # warm up: create the sessions
        await agent.run("hello", session_id=sid)
    gc.collect()
    start = clock()
    for _ in range(turns):
        for sid in ids:
            await agent.run("hello there", session_id=sid)
    return (clock() - start) / max(1, sessions * turns)
"""
RUN_ECHO_TURN = (
    ECHO_TURN
    + """
import asyncio, sys
print(asyncio.run(bench_echo_turn(int(sys.argv[1]), int(sys.argv[2]))))
"""
)
_part2: dict[str, Any] = {}
exec(ECHO_TURN, _part2)
bench_echo_turn = _part2["bench_echo_turn"]


def compare_echo_turn(other: Path, sessions: int, turns: int, rounds: int) -> None:
    """Part 2 in fresh processes, alternating between this tree and ``other``."""
    trees = {"this tree": ROOT, str(other): other}
    times: dict[str, list[float]] = {name: [] for name in trees}
    for index in range(rounds):
        order = list(trees.items())
        for name, tree in order if index % 2 == 0 else reversed(order):
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run(
                [sys.executable, "-c", RUN_ECHO_TURN, str(sessions), str(turns)],
                env=env,
                cwd=tree,
                capture_output=True,
                text=True,
                check=True,
            )
            times[name].append(float(out.stdout))
    print(f"2. echo turn (CPU time), {sessions} sessions x {turns} turns, {rounds} processes each")
    for name, samples in times.items():
        print(
            f"   {name}: median {statistics.median(samples) * 1e6:.1f} µs/turn "
            f"(min {min(samples) * 1e6:.1f})"
        )
    mine, theirs = (statistics.median(times[name]) for name in trees)
    print(f"   ratio this tree / {other}: {mine / theirs:.2f}")


def instructions(tree: Path, sessions: int, turns: int) -> float:
    """Instructions per turn of part 2 in ``tree`` (valgrind)."""
    from instructions import per_unit

    return per_unit(tree, RUN_ECHO_TURN, [str(sessions), str(turns)], sessions * turns)


def compare_instructions(other: Path, sessions: int, turns: int) -> None:
    print(f"2. echo turn (instructions, valgrind), {sessions} sessions x {turns} turns")
    mine, theirs = instructions(ROOT, sessions, turns), instructions(other, sessions, turns)
    print(f"   this tree: {mine:,.0f} instructions/turn")
    print(f"   {other}: {theirs:,.0f} instructions/turn")
    print(f"   ratio this tree / {other}: {mine / theirs:.2f}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller runs (a smoke test)")
    parser.add_argument("--against", type=Path, help="part 2 only, beside another checkout")
    parser.add_argument("--rounds", type=int, default=10, help="processes per tree (--against)")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions (--against; valgrind)"
    )
    args = parser.parse_args()
    if args.against is not None:
        sessions, turns = (200, 5) if args.quick else (1000, 10)
        if args.instructions:
            compare_instructions(args.against.resolve(), sessions, turns)
        else:
            compare_echo_turn(args.against.resolve(), sessions, turns, args.rounds)
        return

    proc, base_url = start_fake_server()
    try:
        print("1. Agent.run vs bare AsyncOpenAI (same history, interleaved, local server)")
        print("   create: client.chat.completions.create; post: client.post, the body as is")
        print("   (20 turns: the mean over 25 conversations; 500 turns: one conversation)")
        print(
            f"{'turns':>6} {'agent ms/turn':>14} {'create ms/turn':>15} {'post ms/turn':>13} "
            f"{'agent/create':>13} {'agent/post':>11}"
        )
        for turns, conversations in ((20, 5), (100, 1)) if args.quick else ((20, 25), (500, 1)):
            await bench_vs_bare_sdk(base_url, 6)  # warm connections and imports
            agent_t, create_t, post_t = await bench_vs_bare_sdk(base_url, turns, conversations)
            print(
                f"{turns:>6} {agent_t * 1e3:>14.3f} {create_t * 1e3:>15.3f} "
                f"{post_t * 1e3:>13.3f} {agent_t / create_t:>13.3f} {agent_t / post_t:>11.3f}"
            )
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)

    print("\n2. Runtime cost per turn, echo provider, memory store, full history")
    sessions, turns = (200, 5) if args.quick else (1000, 10)
    per_turn = await bench_echo_turn(sessions, turns)
    print(f"   {sessions} sessions x {turns} turns: {per_turn * 1e6:.1f} µs/turn (goal <= 50 µs)")

    print("\n3. Memory for sessions of 10 messages (memory store, RSS delta)")
    count = 10_000 if args.quick else 100_000
    used, elapsed = await bench_memory(count)
    print(
        f"   {count:,} sessions: {used / 2**20:.1f} MiB "
        f"({used / count:.0f} bytes/session), built in {elapsed:.1f} s"
    )


if __name__ == "__main__":
    asyncio.run(main())
