"""What a write to a PostgreSQL session sends, worked out by one pure function for turns
(append) and ``set`` (replace); and the checked JSON of messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vel_runner.errors import InvalidInputError
from vel_runner.storage import pg_sql as q
from vel_runner.storage.base import UNCHANGED
from vel_runner.storage.pg_plan import LockedRow, Plan, dump_messages, plan_write

KEY = {"a": "agent", "s": "sid"}
SYSTEM = {"role": "system", "content": "be brief"}


def msgs(*texts: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": t} for t in texts]


def write(messages: list[dict[str, str]], row: LockedRow, **options: Any) -> Plan:
    return plan_write(KEY, row, messages, dump_messages(messages), origin="me", **options)


def queries(plan: Plan) -> list[str]:
    return [query for query, _ in plan.statements]


def write_params(plan: Plan) -> dict[str, Any]:
    params = plan.statements[plan.epoch_at][1]
    assert params is not None
    return params


LIVE = LockedRow(exists=True, epoch=7, seq=10, base=4, pinned=[SYSTEM], summary="so far")


def test_a_first_turn_inserts_the_session_with_its_system_prompt_pinned() -> None:
    plan = write([SYSTEM, *msgs("hi", "ho")], LockedRow())
    assert queries(plan) == ["BEGIN", q.APPEND_NEW, "COMMIT"]
    params = write_params(plan)
    assert json.loads(params["context"]) == [SYSTEM]
    assert (params["seq"], params["base"], params["first"]) == (2, 0, 1)
    assert [json.loads(m)["content"] for m in params["messages"]] == ["hi", "ho"]
    assert (plan.kind, plan.expired, plan.message_count) == ("created", False, 3)
    payload = {"k": "created", "a": "agent", "s": "sid", "n": 3, "o": "me"}
    assert json.loads(params["payload"]) == payload


def test_a_turn_appends_above_the_stored_rows_and_trims_to_keep() -> None:
    plan = write(msgs("a", "b", "c"), LIVE, keep=4, unlock=True, summary="newer")
    assert queries(plan) == ["BEGIN", q.APPEND_EXISTING, "COMMIT", q.UNLOCK]
    params = write_params(plan)
    assert params["context"] is None  # the pinned messages stay as they are
    assert (params["seq"], params["base"], params["first"]) == (13, 9, 11)
    assert (params["above"], params["upto"]) == (4, 9)  # rows 5..9 go
    assert (params["epoch"], params["read_seq"]) == (7, 10)  # guards: the row as read
    assert (params["set_summary"], params["summary"]) == (True, "newer")
    assert [m["content"] for m in plan.appended] == ["a", "b", "c"]
    assert (plan.kind, plan.seq, plan.base, plan.message_count) == ("updated", 13, 9, 5)


def test_a_small_keep_drops_new_rows_before_they_are_written() -> None:
    params = write_params(write(msgs("a", "b", "c"), LIVE, keep=1))
    assert (params["first"], params["base"], params["upto"]) == (13, 12, 10)
    assert [json.loads(m)["content"] for m in params["messages"]] == ["c"]


def test_system_messages_after_the_first_others_are_not_pinned() -> None:
    params = write_params(write([SYSTEM, *msgs("x")], LIVE))
    assert params["context"] is None and len(params["messages"]) == 2
    assert (params["set_summary"], params["summary"]) == (False, None)  # UNCHANGED


def test_an_expired_session_is_deleted_and_started_again() -> None:
    expired = LockedRow(exists=True, expired=True, epoch=3, seq=5, base=0, pinned=[SYSTEM])
    plan = write(msgs("x"), expired)
    assert queries(plan) == ["BEGIN", q.DELETE_EXPIRED, q.APPEND_NEW, "COMMIT"]
    assert plan.statements[1][1] == {**KEY, "epoch": 3}
    assert plan.epoch_at == 2
    params = write_params(plan)
    assert (params["seq"], params["first"], json.loads(params["context"])) == (1, 1, [])
    assert (plan.kind, plan.expired) == ("created", True)


def test_a_turn_whose_lock_was_lost_re_takes_it_inside_its_transaction() -> None:
    plan = write(msgs("x"), LIVE, relock=True, unlock=False)
    assert queries(plan) == ["BEGIN", q.LOCK, q.APPEND_EXISTING, "COMMIT"]


def test_replace_puts_new_rows_above_the_old_ones_and_deletes_those() -> None:
    plan = write([SYSTEM, *msgs("n1", "n2")], LIVE, replace=True, begin=False, summary=None)
    assert queries(plan) == [q.REPLACE_EXISTING, "COMMIT"]  # set's lock began the transaction
    params = write_params(plan)
    assert json.loads(params["context"]) == [SYSTEM]  # the old pinned messages are replaced
    assert (params["seq"], params["base"], params["first"]) == (12, 10, 11)
    assert (params["above"], params["upto"]) == (4, 10)  # every stored row goes
    assert (params["set_summary"], params["summary"]) == (True, None)  # the summary goes
    assert (plan.kind, plan.message_count) == ("updated", 3)


def test_an_edit_replaces_the_messages_but_keeps_the_summary() -> None:
    plan = write(msgs("n1"), LIVE, replace=True, begin=False, summary=UNCHANGED)
    assert queries(plan) == [q.REPLACE_EXISTING, "COMMIT"]
    assert write_params(plan)["set_summary"] is False  # REPLACE_SESSION leaves the summary


def test_replace_of_an_absent_session_inserts_it() -> None:
    plan = write(msgs("n1"), LockedRow(), replace=True, begin=False)
    assert queries(plan) == [q.APPEND_NEW, "COMMIT"]
    assert (write_params(plan)["seq"], plan.kind, plan.message_count) == (1, "created", 1)


def test_without_notify_no_payload_is_built() -> None:
    params = write_params(write(msgs("x"), LIVE, notify=False))
    assert (params["notify"], params["payload"]) == (False, "")


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("not a dict", "must be a dict"),
        ({"role": "user", "content": float("nan")}, "not JSON-serializable"),
        ({"role": "user", "content": "a\udc00"}, "not JSON-serializable"),
        ({"role": "user", "content": "a\x00b"}, "NUL character"),
    ],
)
def test_dump_messages_rejects_what_jsonb_cannot_hold(message: Any, error: str) -> None:
    with pytest.raises(InvalidInputError, match=rf"^new_messages\[1\] .*{error}"):
        dump_messages([{"role": "user", "content": "ok"}, message], "new_messages")


def test_dump_messages_keeps_text_as_it_is() -> None:
    assert dump_messages([{"role": "user", "content": "é \\u0000"}]) == [
        '{"role": "user", "content": "é \\\\u0000"}'
    ]
