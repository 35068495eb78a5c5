"""HTTP server benchmark (issues 5 and 17). Run: python benchmarks/bench_server.py [--quick]

Everything on 127.0.0.1, each server in its own process (one uvicorn worker):

A. Throughput with wrk (-t1 -c100): the floor (benchmarks/floor_app.py, a bare FastAPI
   endpoint that appends to a dict) against an echo turn through ``vel-runner serve`` with
   three histories: no history (a new session every turn); sessions growing to ~40 messages
   (100 sessions x 20 turns, then 100 fresh ones); 400 messages of history (1,000 sessions
   set to 400 messages before each run, ~10 turns each). Runs alternate (floor, then each
   case, ``--repeats`` times) so drifting load hits all of them; medians. Beside turns/s,
   turns per CPU second of the server process: other load on shared cores disturbs it far
   less. Goals (issue 17): >= 0.75 of the floor at ~40 messages, within 10 % from 0 to 400.
B. 100 concurrent sessions x 20 turns (an asyncio keep-alive client, one connection per
   session, turns of a session in sequence): turns/s, p50/p99 through the server against
   the same workload on ``Agent.run`` in-process; echo agent, then an openai agent pointed at
   tests/helpers/fake_openai.py with 50 ms latency (its own process). Overhead = server -
   in-process.
   Back to back on 2 shared cores this saturates every server, the bare floor included:
   latency there is mostly queueing (Little's law: 100 in flight / turns per second).
C. One session, sequential (no queueing), the split of a turn's time: the turn in-process
   (``Agent.run``: the agent, its store and provider), the same turn through ``serve``, and
   one request to the floor. serve - in-process is the HTTP layer plus the server's own
   work; floor is what the HTTP layer alone costs.
D. 100 concurrent sessions as people use them: each waits 0.5-1.5 s (seeded, uniform)
   before its next turn, so the server is busy but not saturated; overhead = server -
   in-process at each percentile, echo and openai@50ms.
E. The cost of metrics (issue 13): echo turns/s with wrk against two servers, one with
   ``GET /metrics`` (the default) and one with ``--no-metrics``, measured alternately
   (off, on, off, on...) so drifting load hits both; the ratio of the medians (goal >= 0.97),
   and the same for turns per CPU second of the server process, which other load on shared
   cores disturbs far less; and the CPU the hooks and metrics add to an in-process turn
   (process CPU time, alternating batches) against the CPU of an HTTP echo turn.
   ``--metrics-only`` runs just this section.

``--only A,C`` runs just those sections.

Needs ``wrk`` (apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers.net import free_port  # noqa: E402

from vel_runner import Agent  # noqa: E402

CONFIG = """\
version: 1
providers:
  offline: {type: echo}
  fake:
    type: openai
    base_url: "${BENCH_OPENAI_URL}"
    api_key: "${BENCH_KEY:-bench}"
    max_retries: 0
agents:
  - id: echo
    model: {provider: offline, model: echo-1}
  - id: gpt
    model: {provider: fake, model: fake-model}
"""
FAKE = """
import sys
sys.path.insert(0, {tests!r})
from helpers import fake_openai
fake_openai.free_port = lambda: {port}
with fake_openai.FakeOpenAI(latency=0.05):
    import gc; gc.collect(); gc.freeze()  # the model stand-in's own GC pauses are not measured
    print("ready", flush=True)
    sys.stdin.read()
"""
#: ``vel-runner serve``'s own code with every turn replaced by one stored answer: what the
#: server costs around a turn (the agent, its store and provider are the turn's cost).
STUBBED_TURN = """
import sys
sys.argv = ["vel-runner", "serve", "-c", {config!r}, "--port", "{port}", "--no-reload",
            "--no-access-log", "--log-level", "warning"]
from vel_runner.agent import Agent
real, answer = Agent.run_turn, []
async def run_turn(self, payload, session_id=None, **options):
    if not answer:  # the first turn is real; every later one answers the same
        answer.append(await real(self, payload, session_id, **options))
    return answer[0]
Agent.run_turn = run_turn
from vel_runner.cli import main
sys.exit(main())
"""
ECHO_PATH = "/v1/agents/echo/runs"
WRK_SCRIPT = """
local counter = 0
request = function()
  counter = counter + 1
  local sid = SESSION
  local body = '{"message":"hello ' .. counter .. '","session_id":"' .. sid .. '"}'
  return wrk.format("POST", "PATH", {["Content-Type"] = "application/json"}, body)
end
"""
#: wrk's session id for each history case (lua; ``counter`` counts the requests)
GROWING = '"wRUN-" .. math.floor(counter / 2000) .. "-" .. (counter % 100)'
NEW_EACH_TURN = '"nRUN-" .. counter'
LONG_SESSIONS = 1000
LONG = f'"h" .. (counter % {LONG_SESSIONS})'
LONG_HISTORY = 400
RUNS = itertools.count()


def wait_for_port(port: int, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def start(args: list[str], port: int, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_for_port(port, proc)
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


# -- A. wrk ------------------------------------------------------------------------------------
def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:  # wrk prints e.g. "-nanus" when a short run has too few samples
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(
    port: int, path: str, seconds: int, connections: int, session: str = GROWING, pid: int = 0
) -> dict[str, float]:
    """Requests/s and latency percentiles from wrk (``session``: the lua expression of each
    request's session id); with the server's ``pid``, also requests per CPU second of that
    process. Fails on any non-2xx answer."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        run = next(RUNS)  # each run its own sessions: a later run must not extend earlier ones
        script.write(
            WRK_SCRIPT.replace("PATH", path).replace("SESSION", session).replace("RUN", str(run))
        )
    used = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script.name,
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    used = cpu_seconds(pid) - used if pid else 0.0
    os.unlink(script.name)
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    if "Latency Distribution" not in out:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    total = float(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    per_cpu = total / used if used > 0 else float("nan")
    return {"rate": rps, "p50": p50, "p99": p99, "per_cpu": per_cpu}


async def seed_long_sessions(port: int) -> None:
    """Set the ``LONG`` case's sessions to ``LONG_HISTORY`` messages each (PUT)."""
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} of the history"}
        for i in range(LONG_HISTORY)
    ]
    conn = await Connection(port).open()
    try:
        for n in range(LONG_SESSIONS):
            await conn.request("PUT", f"/v1/agents/echo/sessions/h{n}", {"messages": history})
    finally:
        conn.close()


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


async def throughput(
    floor: subprocess.Popen[str], floor_port: int, serve: subprocess.Popen[str],
    serve_port: int, seconds: int, repeats: int, config: Path,
) -> None:  # fmt: skip
    """Section A: the floor, the three history cases and the server around a stored answer,
    alternating, medians."""
    header(
        f"A. wrk -t1 -c100 -d{seconds}s, {repeats} alternating runs each, medians",
        extra="  per CPU s  of the floor (turns/s, per CPU s)",
    )
    stub_port = free_port()
    code = STUBBED_TURN.format(config=str(config), port=stub_port)
    stub = start(
        [sys.executable, "-c", code], stub_port, env={"BENCH_OPENAI_URL": "http://127.0.0.1:9/v1"}
    )
    cases = {
        "no history (new session each turn)": (serve, serve_port, NEW_EACH_TURN),
        "sessions growing to ~40 messages": (serve, serve_port, GROWING),
        f"{LONG_HISTORY} messages of history": (serve, serve_port, LONG),
        "a stored answer each turn (server alone)": (stub, stub_port, GROWING),
    }
    runs: dict[str, list[dict[str, float]]] = {"floor": [], **{label: [] for label in cases}}
    try:
        wrk(stub_port, ECHO_PATH, 1, 100)  # warm up
        for _ in range(repeats):
            runs["floor"].append(wrk(floor_port, "/append", seconds, 100, pid=floor.pid))
            for label, (proc, port, session) in cases.items():
                if session == LONG:
                    await seed_long_sessions(port)
                runs[label].append(wrk(port, ECHO_PATH, seconds, 100, session, proc.pid))
    finally:
        stop(stub)
    base = median_of(runs["floor"])
    row("floor: bare FastAPI append to a dict", base, f"{base['per_cpu']:>9,.0f}")
    rates = []
    for label, (proc, _, _) in cases.items():
        figures = median_of(runs[label])
        if proc is serve:
            rates.append(figures["rate"])
        shares = f"{figures['rate'] / base['rate']:.2f}, {figures['per_cpu'] / base['per_cpu']:.2f}"
        row(f"serve: {label}", figures, f"{figures['per_cpu']:>9,.0f}  {shares}")
    print(
        f"  goal >= 0.75 of the floor at ~40 messages; from 0 to {LONG_HISTORY} messages the "
        f"rate moves {100 * (max(rates) / min(rates) - 1):.0f} % (goal <= 10 %); the stored "
        "answer's row is the server's own cost, the rest of a turn's is the agent's"
    )


# -- E. metrics on against off ------------------------------------------------------------------
def serve_command(python: str, config: Path, port: int, *extra: str) -> list[str]:
    return [python, "-m", "vel_runner.cli", "serve", "-c", str(config), "--port", str(port),
            "--no-reload", "--no-access-log", "--log-level", "warning", *extra]  # fmt: skip


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux): unlike turns/s, it does not
    depend on what else the shared cores run meanwhile."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def hook_cost(turns: int = 2000, rounds: int = 7) -> float:
    """CPU seconds the metrics observer adds to one echo turn (``Agent.run``, in this
    process): alternating batches without and with it, fresh sessions for each batch, the
    median difference. Process CPU time, so other load on the machine hardly moves it."""
    from vel_runner.observe import hooks, metrics

    agent = Agent("hooks", model={"provider": "echo", "model": "echo-1"})
    batches = iter(range(1_000_000))

    async def batch() -> float:
        prefix = next(batches)
        started = time.process_time()
        for n in range(turns):
            await agent.run("hello there", session_id=f"{prefix}-{n % 100}")
        return (time.process_time() - started) / turns

    await batch()
    observer = metrics.TurnMetrics(metrics.process_metrics())
    differences = []
    for _ in range(rounds):
        off = await batch()
        remove = hooks.add_observer(observer)
        try:
            on = await batch()
        finally:
            remove()
        differences.append(on - off)
    await agent.aclose()
    return statistics.median(differences)


async def metrics_cost(
    python: str, config: Path, seconds: int, repeats: int, openai_url: str
) -> None:
    """Echo turns/s with metrics on and off, alternating runs; prints the medians."""
    header(f"E. metrics on vs off: wrk -t1 -c100 -d{seconds}s, {repeats} alternating runs each")
    ports = {"off": free_port(), "on": free_port()}
    servers = {
        name: start(
            serve_command(python, config, port, *(["--no-metrics"] * (name == "off"))),
            port,
            env={"BENCH_OPENAI_URL": openai_url},
        )
        for name, port in ports.items()
    }
    try:
        rates: dict[str, list[float]] = {"off": [], "on": []}
        per_cpu: dict[str, list[float]] = {"off": [], "on": []}
        for port in ports.values():
            wrk(port, ECHO_PATH, 2, 100)  # warm up
        for _ in range(repeats):
            for name, port in ports.items():
                used = cpu_seconds(servers[name].pid)
                rate = wrk(port, ECHO_PATH, seconds, 100)["rate"]
                used = cpu_seconds(servers[name].pid) - used
                rates[name].append(rate)
                per_cpu[name].append(rate * seconds / used)
        with socket.create_connection(("127.0.0.1", ports["on"])) as sock:
            sock.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            scraped = b"".join(iter(lambda: sock.recv(65536), b"")).decode()
        turns = re.search(r'vel_turns_total\{agent="echo",outcome="ok"\} (\S+)', scraped)
        assert turns is not None, "the metrics-on server counted no turns"
        for label, figures in (("turns/s", rates), ("turns per CPU second", per_cpu)):
            off, on = statistics.median(figures["off"]), statistics.median(figures["on"])
            for name in ("off", "on"):
                runs = " ".join(f"{r:.0f}" for r in figures[name])
                median = statistics.median(figures[name])
                print(f"  metrics {name:<4} median {median:>8.0f} {label}  ({runs})")
            print(f"  {label}: on / off = {on / off:.3f} (goal >= 0.97)")
        print(f"  the metrics-on server counted {float(turns[1]):.0f} turns")
        http_cpu = 1 / statistics.median(per_cpu["off"])
        added = await hook_cost()
        print(
            f"  in-process CPU a turn's hooks and metrics add: {added * 1e6:.1f} us; against "
            f"{http_cpu * 1e6:.0f} us of CPU per HTTP echo turn that is "
            f"on / off = {http_cpu / (http_cpu + added):.3f} (goal >= 0.97)"
        )
    finally:
        for proc in servers.values():
            stop(proc)


# -- B/C. an asyncio keep-alive client ----------------------------------------------------------
class Connection:
    """HTTP/1.1 POSTs over one keep-alive connection: minimal, so the client is not the
    bottleneck (httpx costs more per request than the server under test)."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def open(self) -> Connection:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self

    async def post(self, path: str, payload: dict[str, str]) -> dict[str, object]:
        return await self.request("POST", path, payload)

    async def request(self, method: str, path: str, payload: dict[str, Any]) -> dict[str, object]:
        body = json.dumps(payload).encode()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) != b"\r\n":
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        data = await self.reader.readexactly(length)
        if b" 200 " not in status:
            raise RuntimeError(f"{status!r}: {data[:200]!r}")
        return json.loads(data)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.writer.close()


Turn = Callable[[str, str], Awaitable[object]]


async def sessions_run(
    turn_for: Callable[[int], Awaitable[Turn]],
    sessions: int,
    turns: int,
    rounds: int,
    think: tuple[float, float] | None = None,
) -> dict[str, float]:
    """``sessions`` concurrent sessions x ``turns`` sequential turns, ``rounds`` times;
    with ``think``, each session waits a uniform (low, high) seconds before each turn."""
    latencies: list[float] = []
    total_time = 0.0
    for round_no in range(rounds):
        callers = [await turn_for(i) for i in range(sessions)]

        async def session(index: int, call: Turn, round_no: int = round_no) -> None:
            sid = f"r{round_no}-s{index}"
            pause = random.Random(f"{round_no}-{index}")
            for n in range(turns):
                if think is not None:
                    await asyncio.sleep(pause.uniform(*think))
                started = time.perf_counter()
                await call(f"turn {n} of {sid}", sid)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(session(i, c) for i, c in enumerate(callers)))
        total_time += time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "rate": len(latencies) / total_time,
        "p50": cuts[49] * 1000,
        "p99": cuts[98] * 1000,
    }


async def through_server(
    port: int,
    path: str,
    sessions: int,
    turns: int,
    rounds: int,
    think: tuple[float, float] | None = None,
) -> dict[str, float]:
    connections: list[Connection] = []

    async def turn_for(index: int) -> Turn:
        conn = await Connection(port).open()
        connections.append(conn)
        return lambda message, sid: conn.post(path, {"message": message, "session_id": sid})

    try:
        return await sessions_run(turn_for, sessions, turns, rounds, think)
    finally:
        for conn in connections:
            conn.close()


async def in_process(
    agent: Agent,
    sessions: int,
    turns: int,
    rounds: int,
    think: tuple[float, float] | None = None,
) -> dict[str, float]:
    async def turn_for(index: int) -> Turn:
        return lambda message, sid: agent.run({"message": message}, session_id=sid)

    return await sessions_run(turn_for, sessions, turns, rounds, think)


# -- report ---------------------------------------------------------------------------------
def row(label: str, figures: dict[str, float], extra: str = "") -> None:
    print(
        f"  {label:<44} {figures['rate']:>9,.0f} {figures['p50']:>8.2f} "
        f"{figures['p99']:>8.2f}  {extra}"
    )


def overhead(label: str, server: dict[str, float], local: dict[str, float], goal: str) -> None:
    p50, p99 = server["p50"] - local["p50"], server["p99"] - local["p99"]
    ratio = server["rate"] / local["rate"]
    print(f"  {label:<44} {ratio:>8.2f}x {p50:>8.2f} {p99:>8.2f}  {goal}")


def overhead_header() -> None:
    print(f"  {'overhead (serve - in-process)':<44} {'rate':>9} {'p50 ms':>8} {'p99 ms':>8}")


def header(title: str, extra: str = "") -> None:
    print(f"\n{title}")
    print(f"  {'':<44} {'turns/s':>9} {'p50 ms':>8} {'p99 ms':>8}{extra}")


async def split(floor_port: int, serve_port: int, echo: Agent) -> None:
    """Section C: one session at a time, the turn in-process, through serve, and the floor."""
    header("C. one session at a time, 20 turns each, 25 sessions (no queueing)")
    one_local = await in_process(echo, 1, 20, 25)
    row("echo, in-process Agent.run", one_local)
    one_served = await through_server(serve_port, ECHO_PATH, 1, 20, 25)
    row("echo, through vel-runner serve", one_served)
    one_floor = await through_server(floor_port, "/append", 1, 20, 25)
    row("floor: bare FastAPI append to a dict", one_floor)
    turn, served, floor = (f["p50"] * 1000 for f in (one_local, one_served, one_floor))
    print(
        f"  median turn, sequential: {served:.0f} us through serve = {turn:.0f} us of turn "
        f"in-process (agent, store, provider) + {served - turn:.0f} us of HTTP and server; "
        f"one floor request: {floor:.0f} us"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs")
    parser.add_argument("--seconds", type=int, default=None, help="wrk duration (default 10)")
    parser.add_argument("--repeats", type=int, default=None, help="A's runs per case (default 3)")
    parser.add_argument("--only", default="ABCDE", help="sections to run, e.g. A,C (default all)")
    parser.add_argument("--metrics-only", action="store_true", help="only section E")
    args = parser.parse_args()
    seconds = args.seconds or (3 if args.quick else 10)
    rounds = 2 if args.quick else 5
    repeats = args.repeats or (1 if args.quick else 3)
    sections = set(args.only.upper().replace(",", "")) if not args.metrics_only else {"E"}
    if shutil.which("wrk") is None:
        sys.exit("bench_server.py needs wrk: apt-get install wrk")

    python = sys.executable
    if sections == {"E"}:
        workdir = Path(tempfile.mkdtemp())
        (workdir / "agents.yaml").write_text(CONFIG)
        try:
            config = workdir / "agents.yaml"
            await metrics_cost(
                python, config, seconds, 3 if args.quick else 5, "http://127.0.0.1:9/v1"
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return
    quiet = ["--no-access-log", "--log-level", "warning"]
    fake_port, floor_port, serve_port = free_port(), free_port(), free_port()
    fake = subprocess.Popen(
        [python, "-c", FAKE.format(tests=str(ROOT / "tests"), port=fake_port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert fake.stdout is not None and fake.stdout.readline().strip() == "ready"
    fake_url = f"http://127.0.0.1:{fake_port}/v1"
    workdir = Path(tempfile.mkdtemp())
    (workdir / "agents.yaml").write_text(CONFIG)
    floor = start(
        [python, "-m", "uvicorn", "benchmarks.floor_app:app", "--port", str(floor_port), *quiet],
        floor_port,
    )
    serve = start(
        serve_command(python, workdir / "agents.yaml", serve_port),
        serve_port,
        env={"BENCH_OPENAI_URL": fake_url},
    )
    print(
        f"vel-runner serve benchmark: loopback, {os.cpu_count()} CPUs, one uvicorn worker "
        f"per server (asyncio loop, h11), Python {sys.version.split()[0]}, "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    )
    echo = Agent("echo", model={"provider": "echo", "model": "echo-1"})
    try:
        wrk(floor_port, "/append", 1, 100)  # warm up both servers
        wrk(serve_port, ECHO_PATH, 1, 100)
        if "A" in sections:
            await throughput(
                floor, floor_port, serve, serve_port, seconds, repeats, workdir / "agents.yaml"
            )
        if "C" in sections:
            await split(floor_port, serve_port, echo)
        gpt = Agent(
            "gpt",
            model={
                "provider": "openai",
                "model": "fake-model",
                "api_key": "bench",
                "base_url": fake_url,
                "max_retries": 0,
            },
        )
        await gpt.run("warm up")
        if "B" in sections:
            header(f"B. 100 concurrent sessions x 20 turns, {rounds} rounds (asyncio client)")
            echo_local = await in_process(echo, 100, 20, rounds)
            row("echo, in-process Agent.run", echo_local)
            floor_served = await through_server(floor_port, "/append", 100, 20, rounds)
            row("floor: bare FastAPI append to a dict", floor_served)
            echo_served = await through_server(serve_port, ECHO_PATH, 100, 20, rounds)
            row("echo, through vel-runner serve", echo_served)
            gpt_local = await in_process(gpt, 100, 20, rounds)
            row("openai (50 ms server), in-process", gpt_local)
            gpt_path = "/v1/agents/gpt/runs"
            gpt_served = await through_server(serve_port, gpt_path, 100, 20, rounds)
            row("openai (50 ms server), through serve", gpt_served)
            print(
                f"  {'overhead (serve - in-process)':<44} {'rate':>9} {'p50 ms':>8} {'p99 ms':>8}"
            )
            overhead("echo", echo_served, echo_local, "(goal p99 <= 10 ms)")
            overhead("echo, serve - floor", echo_served, floor_served, "(vel-runner's own share)")
            overhead("openai", gpt_served, gpt_local, "(goal p99 <= 10 ms)")
        stop(floor)

        if "D" in sections:
            think = (0.5, 1.5)
            turns = 10 if args.quick else 20
            header(
                f"D. 100 concurrent sessions x {turns} turns, 0.5-1.5 s between a session's turns"
            )
            think_echo_local = await in_process(echo, 100, turns, 1, think)
            row("echo, in-process Agent.run", think_echo_local)
            think_echo_served = await through_server(serve_port, ECHO_PATH, 100, turns, 1, think)
            row("echo, through vel-runner serve", think_echo_served)
            think_gpt_local = await in_process(gpt, 100, turns, 1, think)
            row("openai (50 ms server), in-process", think_gpt_local)
            gpt_path = "/v1/agents/gpt/runs"
            think_gpt_served = await through_server(serve_port, gpt_path, 100, turns, 1, think)
            row("openai (50 ms server), through serve", think_gpt_served)
            print(
                f"  {'overhead (serve - in-process)':<44} {'rate':>9} {'p50 ms':>8} {'p99 ms':>8}"
            )
            overhead("echo", think_echo_served, think_echo_local, "(goal p99 <= 10 ms)")
            overhead("openai", think_gpt_served, think_gpt_local, "(goal p99 <= 10 ms)")
        await gpt.aclose()
        stop(serve)
        if "E" in sections:
            repeats_e = 3 if args.quick else 5
            await metrics_cost(python, workdir / "agents.yaml", seconds, repeats_e, fake_url)
    finally:
        await echo.aclose()
        for proc in (floor, serve):
            if proc.poll() is None:
                stop(proc)
        fake.communicate("", timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
