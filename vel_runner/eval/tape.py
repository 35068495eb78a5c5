"""The cassette of one eval file during a run: it answers requests (replay) or collects the
exchanges (record), and says what a case that runs is doing (:class:`Scope`).

The runner sets :data:`SCOPE` around each case run, so the provider wrapper (which knows only
the request) finds the file's tape and the case, repeat and turn the request belongs to.
Replay looks an exchange up by its request key: first among the same run's own recordings
(the n-th identical request gets the n-th recorded answer), then the case's other repeats,
then any case of the file (an identical request has an interchangeable answer).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ProviderError
from .cassette import Exchange, make_request, read_cassette, request_key, scrub, write_cassette
from .cassette_diff import differences, distance
from .spec import Case, EvalFile


class CassetteMiss(ProviderError):
    """A replayed request that the cassette has no answer for."""


@dataclass(eq=False, slots=True)
class Scope:
    """One run of a case: where its model requests belong."""

    tape: Tape
    case: Case
    repeat: int
    turn: int = 0
    seq: int = 0
    #: How many times each request key was answered in this run (identical requests).
    used: dict[str, int] = field(default_factory=dict)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq - 1

    def where(self) -> str:
        text = f"case {self.case.name!r}, turn {self.turn}"
        return text + (f" (repeat {self.repeat + 1})" if self.case.repeat > 1 else "")


#: The case run the current task works for (set by the runner; read by the cassette provider).
SCOPE: ContextVar[Scope | None] = ContextVar("vel_runner_eval_scope", default=None)


class Tape:
    """The exchanges of one eval file's cassette, read at start and written after a record."""

    def __init__(self, eval_file: EvalFile, *, record: bool, secrets: Sequence[str]) -> None:
        self.eval_file = eval_file
        self.path: Path = eval_file.cassette
        self.record = record
        self.secrets = list(secrets)
        self.exists = self.path.exists()
        self.recorded = read_cassette(self.path)
        self.new: list[Exchange] = []
        self._by_run: dict[tuple[str, int, str], list[Exchange]] = defaultdict(list)
        self._by_case: dict[tuple[str, str], list[Exchange]] = defaultdict(list)
        self._by_key: dict[str, list[Exchange]] = defaultdict(list)
        for exchange in sorted(self.recorded, key=lambda e: (e.repeat, e.seq)):
            self._by_run[(exchange.case, exchange.repeat, exchange.key)].append(exchange)
            self._by_case[(exchange.case, exchange.key)].append(exchange)
            self._by_key[exchange.key].append(exchange)

    def request(
        self, model: str, messages: Sequence[Mapping[str, Any]], settings: Mapping[str, Any]
    ) -> tuple[dict[str, Any], str]:
        """The request as the cassette keeps it (secrets redacted) and its key."""
        request = scrub(make_request(model, messages, settings), self.secrets)
        return request, request_key(request)

    def answer(self, scope: Scope, request: Mapping[str, Any], key: str) -> Exchange:
        """The recorded exchange for this request, or :class:`CassetteMiss` saying why not."""
        count = scope.used.get(key, 0)
        name = scope.case.name
        for pool in (
            self._by_run.get((name, scope.repeat, key)),
            self._by_case.get((name, key)),
            self._by_key.get(key),
        ):
            if pool:
                scope.used[key] = count + 1
                return pool[min(count, len(pool) - 1)]
        raise CassetteMiss(self._miss(scope, request), provider="cassette")

    def _miss(self, scope: Scope, request: Mapping[str, Any]) -> str:
        """Which case and turn, and what changed since the nearest recorded request of the
        case (one line per change), then how to record again."""
        head = (
            f"cassette miss in {self.eval_file.path}, {scope.where()}: "
            f"{self.path} has no answer to this request"
        )
        again = f"record it again with: vel-runner eval --record {self.eval_file.path}"
        if not self.exists:
            return f"{head} (the cassette does not exist)\n{again}"
        mine = [e for e in self.recorded if e.case == scope.case.name]
        if not mine:
            return f"{head} (the cassette has no exchange of this case)\n{again}"
        nearest = min(
            mine,
            key=lambda e: (
                distance(e.request, request),
                e.turn != scope.turn,
                e.repeat != scope.repeat,
                e.seq,
            ),
        )
        changes = differences(nearest.request, request) or ["a detail of the request"]
        listed = "".join(f"\n- {change}" for change in changes)
        return (
            f"{head}\nwhat changed since the nearest recorded request (turn {nearest.turn}):"
            f"{listed}\n{again}"
        )

    def add(
        self,
        scope: Scope,
        seq: int,
        provider: str,
        request: dict[str, Any],
        key: str,
        response: Mapping[str, Any],
    ) -> None:
        """Keep an exchange of a record run (the response's secrets redacted)."""
        self.new.append(
            Exchange(
                scope.case.name, scope.repeat, scope.turn, seq, provider, key, request,
                scrub(response, self.secrets),
            )
        )  # fmt: skip

    def save(self, ran: set[str]) -> str | None:
        """After a record run: write the cassette (the cases not run keep their exchanges;
        cases no longer in the file lose theirs). Returns what was done, for the report."""
        if not self.record:
            raise RuntimeError("only a record run writes its cassette")
        order = {case.name: case.index for case in self.eval_file.cases}
        kept = [e for e in self.recorded if e.case in order and e.case not in ran]
        exchanges = sorted([*kept, *self.new], key=lambda e: (order[e.case], e.repeat, e.seq))
        if not exchanges:
            if not self.exists:
                return None
            self.path.unlink()
            return f"removed {self.path} (no model exchanges to keep)"
        write_cassette(self.path, self.eval_file.path.name, exchanges)
        return f"wrote {len(exchanges)} exchanges to {self.path}"


__all__ = ["SCOPE", "CassetteMiss", "Scope", "Tape"]
