"""The PostgreSQL store's tail cache and the merge of a cached copy with fresh rows (pure)."""

from __future__ import annotations

from vel_runner.storage.pg_cache import CachedTail, SessionCache, live_bound, merge_tail, trim_to
from vel_runner.storage.pg_plan import LockedRow


def tail(first: int, last: int) -> list[dict[str, str]]:
    """Messages standing for seqs ``first..last``."""
    return [{"role": "user", "content": str(seq)} for seq in range(first, last + 1)]


def seqs(messages: list[dict[str, str]] | None) -> list[int] | None:
    return None if messages is None else [int(m["content"]) for m in messages]


def row(epoch: int = 1, seq: int = 0, base: int = 0) -> LockedRow:
    return LockedRow(exists=True, epoch=epoch, seq=seq, base=base)


def test_the_cache_is_an_lru_bounded_by_sessions_and_by_messages() -> None:
    cache = SessionCache(max_sessions=2, max_messages=5)
    cache.put(("a", "1"), CachedTail(1, 2, tail(1, 2)))
    cache.put(("a", "2"), CachedTail(1, 2, tail(1, 2)))
    cache.put(("a", "3"), CachedTail(1, 1, tail(1, 1)))  # a third session: the oldest goes
    assert (len(cache), cache.held) == (2, 3)
    assert cache.take(("a", "1")) is None
    cache.put(("a", "4"), CachedTail(1, 3, tail(1, 3)))  # 6 messages > 5: "2" goes
    assert cache.take(("a", "2")) is None
    assert (len(cache), cache.held) == (2, 4)
    cache.put(("a", "big"), CachedTail(1, 9, tail(1, 9)))  # larger than the whole cache
    assert cache.take(("a", "big")) is None and len(cache) == 2


def test_take_hands_the_entry_over_and_put_replaces_it() -> None:
    cache = SessionCache()
    entry = CachedTail(1, 2, tail(1, 2))
    cache.put(("a", "s"), entry)
    assert cache.take(("a", "s")) is entry
    assert cache.take(("a", "s")) is None and cache.held == 0  # a turn owns it now
    cache.put(("a", "s"), entry)
    cache.put(("a", "s"), CachedTail(1, 3, tail(1, 3)))
    assert cache.held == 3
    cache.drop(("a", "s"))
    assert len(cache) == 0 and cache.held == 0


def test_a_disabled_cache_keeps_nothing() -> None:
    cache = SessionCache(max_sessions=0)
    cache.put(("a", "s"), CachedTail(1, 1, tail(1, 1)))
    assert cache.take(("a", "s")) is None


def test_live_bound_applies_the_window_above_the_trim() -> None:
    assert live_bound(row(seq=10, base=2), None) == 2
    assert live_bound(row(seq=10, base=2), 5) == 5
    assert live_bound(row(seq=10, base=8), 5) == 8


def test_merge_extends_the_copy_in_place_with_what_others_appended() -> None:
    cached = CachedTail(1, 4, tail(1, 4))
    merged = merge_tail(cached, tail(5, 6), row(seq=6), None)
    assert merged is cached.messages and seqs(merged) == [1, 2, 3, 4, 5, 6]
    assert seqs(merge_tail(CachedTail(1, 6, tail(1, 6)), [], row(seq=6), 3)) == [4, 5, 6]


def test_merge_refuses_a_stale_copy() -> None:
    assert merge_tail(CachedTail(1, 4, tail(1, 4)), [], row(epoch=2, seq=4), None) is None
    assert merge_tail(CachedTail(1, 5, tail(1, 5)), [], row(seq=4), None) is None  # ahead
    # the read started above the copy but the copy does not reach down to what is needed
    assert merge_tail(CachedTail(1, 4, tail(3, 4)), tail(6, 6), row(seq=6), None) is None


def test_merge_uses_only_the_fresh_rows_when_they_start_above_the_copy() -> None:
    # a window (or a trim) made the read start above the copy's seq: the copy is not needed
    merged = merge_tail(CachedTail(1, 2, tail(1, 2)), tail(8, 10), row(seq=10), 3)
    assert seqs(merged) == [8, 9, 10]


def test_trim_to_drops_in_place_or_says_the_tail_is_too_short() -> None:
    messages = tail(3, 6)
    assert trim_to(messages, 6, 4) is messages and seqs(messages) == [5, 6]
    assert seqs(trim_to(tail(3, 6), 6, 2)) == [3, 4, 5, 6]  # already above the bound
    assert trim_to(tail(3, 6), 6, 1) is None  # seq 2 is missing
