"""The SQL text of the PostgreSQL store: constants only, run by :mod:`.pg_run`.

Every value (session ids, agent ids, message contents) travels as a query parameter; nothing
the user supplies is ever formatted into SQL. Statements are plain constants so psycopg can
prepare them, and an operation is a list of ``(query, params)`` run in one pipeline (one
network round trip) by the sync or the async connection alike. Naming a server without its
password is :mod:`vel_runner.redact`'s job.
"""

from __future__ import annotations

from typing import Any

Statement = tuple[str, dict[str, Any] | None]

CHANNEL = "vel_sessions"

BEGIN: Statement = ("BEGIN", None)
COMMIT: Statement = ("COMMIT", None)
ROLLBACK: Statement = ("ROLLBACK", None)

#: Waits for the session's turn in flight (in any process) and keeps the session locked until
#: the transaction ends: ``set`` and ``clear`` never land in the middle of a turn.
LOCK = "SELECT pg_advisory_xact_lock(vel_lock_key(%(a)s, %(s)s))"

#: A turn's session-level lock and read, on a turn connection (migration 0003): one row,
#: ``locked`` false while another process's turn holds the session.
BEGIN_TURN = """
SELECT locked, epoch, seq, base_seq, context, summary, expired, tail
FROM vel_begin_turn(%(a)s, %(s)s, %(after)s, %(window)s)
"""

#: A busy session: queue for its lock behind the turns already waiting (first come, first
#: served).
WAIT_LOCK = "SELECT pg_advisory_lock(vel_lock_key(%(a)s, %(s)s))"

#: What ``vel_begin_turn`` reads, for a turn that already holds its lock (after waiting for
#: it, or to read again from the start when its cached copy was stale). No row: no session.
READ_TURN = """
SELECT s.epoch, s.seq, s.base_seq, s.context, s.summary,
       (s.expires_at IS NOT NULL AND s.expires_at <= clock_timestamp()),
       (SELECT COALESCE(json_agg(m.message ORDER BY m.seq), '[]'::json)
        FROM vel_messages m
        WHERE m.agent_id = s.agent_id AND m.session_id = s.id
          AND m.seq > GREATEST(%(after)s, s.base_seq, s.seq - %(window)s))
FROM vel_sessions s WHERE s.agent_id = %(a)s AND s.id = %(s)s
"""

#: Ends a turn's hold on its session (sent with the write, or alone when the turn failed).
UNLOCK = "SELECT pg_advisory_unlock(vel_lock_key(%(a)s, %(s)s))"

#: A waiting connection going back to the pool: whatever session lock it may still hold (a
#: turn cancelled while it waited may have been granted its lock all the same) goes.
UNLOCK_ALL = "SELECT pg_advisory_unlock_all()"

#: The session row, locked so a concurrent DELETE (clear, the spec's cleanup SQL) waits.
SELECT_ROW = """
SELECT epoch, seq, base_seq, context, summary,
       (expires_at IS NOT NULL AND expires_at <= clock_timestamp()) AS expired
FROM vel_sessions WHERE agent_id = %(a)s AND id = %(s)s
FOR UPDATE
"""

DELETE_SESSION = "DELETE FROM vel_sessions WHERE agent_id = %(a)s AND id = %(s)s"
#: An expired session a write replaces: only the one the writer read (same epoch).
DELETE_EXPIRED = DELETE_SESSION + " AND epoch = %(epoch)s"

INSERT_SESSION = """
INSERT INTO vel_sessions (agent_id, id, context, summary, seq, base_seq,
                          input_tokens, output_tokens, turns,
                          created_at, updated_at, expires_at)
VALUES (%(a)s, %(s)s, %(context)s::jsonb, %(summary)s, %(seq)s, %(base)s,
        %(in_tokens)s, %(out_tokens)s, %(turns)s,
        clock_timestamp(), clock_timestamp(),
        clock_timestamp() + make_interval(secs => %(ttl)s::float8))
RETURNING epoch
"""

UPDATE_SESSION = """
UPDATE vel_sessions SET
    context = COALESCE(%(context)s::jsonb, context),
    summary = CASE WHEN %(set_summary)s THEN %(summary)s ELSE summary END,
    seq = %(seq)s, base_seq = %(base)s,
    input_tokens = input_tokens + %(in_tokens)s, output_tokens = output_tokens + %(out_tokens)s,
    turns = turns + %(turns)s,
    updated_at = clock_timestamp(),
    expires_at = clock_timestamp() + make_interval(secs => %(ttl)s::float8)
WHERE agent_id = %(a)s AND id = %(s)s
RETURNING epoch
"""

#: ``set`` and ``edit``: a replaced session gets a new epoch so every process's cached copy is
#: stale. ``set`` drops the summary, ``edit`` keeps it.
REPLACE_SESSION = """
UPDATE vel_sessions SET
    context = %(context)s::jsonb,
    summary = CASE WHEN %(set_summary)s THEN %(summary)s ELSE summary END,
    seq = %(seq)s, base_seq = %(base)s,
    epoch = nextval('vel_session_epoch'),
    updated_at = clock_timestamp(),
    expires_at = clock_timestamp() + make_interval(secs => %(ttl)s::float8)
WHERE agent_id = %(a)s AND id = %(s)s
RETURNING epoch
"""

INSERT_MESSAGES = """
INSERT INTO vel_messages (agent_id, session_id, seq, message)
SELECT %(a)s, %(s)s, %(first)s::bigint + t.ord - 1, t.m::jsonb
FROM unnest(%(messages)s::text[]) WITH ORDINALITY AS t(m, ord)
"""

DELETE_MESSAGES = """
DELETE FROM vel_messages
WHERE agent_id = %(a)s AND session_id = %(s)s AND seq > %(above)s AND seq <= %(upto)s
"""

#: A whole write in one statement: the session row (UPDATE, INSERT for a new session, or
#: REPLACE for ``set``), the new message rows, the trimmed ones, the notification. The
#: inserted and the deleted seqs never overlap (the plan inserts only rows that survive the
#: trim, above every seq it deletes). The row must still be the one the writer read (same
#: epoch and seq; still absent for a new one), else nothing is written and no row comes back:
#: only a writer that ignores the session lock (the spec's raw DELETE, say) can change it
#: under a turn.
_APPEND_REST = f"""),
appended AS ({INSERT_MESSAGES} WHERE EXISTS (SELECT 1 FROM session)),
trimmed AS ({DELETE_MESSAGES} AND EXISTS (SELECT 1 FROM session))
SELECT epoch, CASE WHEN %(notify)s THEN pg_notify('vel_sessions', %(payload)s) END
FROM session
"""
_KEY = "WHERE agent_id = %(a)s AND id = %(s)s"
_READ_ROW = _KEY + " AND epoch = %(epoch)s AND seq = %(read_seq)s"
_INSERT_ABSENT_ROW = INSERT_SESSION.replace(
    "RETURNING epoch", "ON CONFLICT (agent_id, id) DO NOTHING\nRETURNING epoch"
)
APPEND_EXISTING = f"WITH session AS ({UPDATE_SESSION.replace(_KEY, _READ_ROW)}{_APPEND_REST}"
APPEND_NEW = f"WITH session AS ({_INSERT_ABSENT_ROW}{_APPEND_REST}"
REPLACE_EXISTING = f"WITH session AS ({REPLACE_SESSION.replace(_KEY, _READ_ROW)}{_APPEND_REST}"

GET = """
SELECT s.context, s.summary, s.created_at, s.updated_at, s.expires_at,
       s.input_tokens, s.output_tokens, s.turns,
       (SELECT COALESCE(json_agg(m.message ORDER BY m.seq), '[]'::json)
        FROM vel_messages m
        WHERE m.agent_id = s.agent_id AND m.session_id = s.id AND m.seq > s.base_seq)
FROM vel_sessions s
WHERE s.agent_id = %(a)s AND s.id = %(s)s
  AND (s.expires_at IS NULL OR s.expires_at > clock_timestamp())
"""

#: The live messages with these ids, through the index on ``message->>'id'`` (migration
#: 0004): one row per id found, with its session and whether it is the session's newest
#: message. Should two sessions hold an id (a copy), the older session keeps it: a newer one
#: never re-points it.
FIND_MESSAGES = """
SELECT DISTINCT ON (m.message->>'id') m.message->>'id', m.agent_id, m.session_id, m.seq = s.seq
FROM vel_messages m
JOIN vel_sessions s ON s.agent_id = m.agent_id AND s.id = m.session_id
WHERE m.message->>'id' = ANY(%(ids)s::text[]) AND m.seq > s.base_seq
  AND (s.expires_at IS NULL OR s.expires_at > clock_timestamp())
ORDER BY m.message->>'id', s.created_at, m.agent_id, m.session_id, m.seq DESC
"""

CLEAR = """
WITH gone AS (
    DELETE FROM vel_sessions WHERE agent_id = %(a)s AND id = %(s)s
    RETURNING agent_id, id, (expires_at IS NULL OR expires_at > clock_timestamp()) AS live)
SELECT live, pg_notify('vel_sessions', json_build_object(
    'k', CASE WHEN live THEN 'cleared' ELSE 'expired' END,
    'a', agent_id, 's', id, 'n', 0, 'o', %(origin)s::text)::text)
FROM gone
"""

#: Inactive or expired sessions; ones a turn holds right now are active, so they are skipped.
DELETE_INACTIVE = """
WITH gone AS (
    DELETE FROM vel_sessions WHERE (agent_id, id) IN (
        SELECT agent_id, id FROM vel_sessions
        WHERE (%(agent)s::text IS NULL OR agent_id = %(agent)s)
          AND (updated_at < clock_timestamp() - make_interval(secs => %(age)s::float8)
               OR expires_at <= clock_timestamp())
          AND vel_lock_key(agent_id, id) NOT IN (SELECT lock_key FROM vel_busy_sessions)
        FOR UPDATE SKIP LOCKED)
    RETURNING agent_id, id)
SELECT agent_id, id, pg_notify('vel_sessions', json_build_object(
    'k', 'cleared', 'a', agent_id, 's', id, 'n', 0, 'o', %(origin)s::text)::text)
FROM gone
"""

#: The scheduled sweep's transaction-level advisory lock (the two-key form, so it never
#: collides with a session's one-key lock): one process sweeps at a time.
SWEEP_LOCK = (7661, 1)

#: Expired sessions no turn holds, deleted by one process at a time: the others find the
#: lock taken and delete nothing (the lock ends with the statement's transaction).
SWEEP_EXPIRED = f"""
WITH gone AS (
    DELETE FROM vel_sessions WHERE (agent_id, id) IN (
        SELECT agent_id, id FROM vel_sessions
        WHERE expires_at <= clock_timestamp()
          AND vel_lock_key(agent_id, id) NOT IN (SELECT lock_key FROM vel_busy_sessions)
        FOR UPDATE SKIP LOCKED)
      AND (SELECT pg_try_advisory_xact_lock{SWEEP_LOCK})
    RETURNING agent_id, id)
SELECT agent_id, id, pg_notify('vel_sessions', json_build_object(
    'k', 'expired', 'a', agent_id, 's', id, 'n', 0, 'o', %(origin)s::text)::text)
FROM gone
"""

LIST = """
SELECT agent_id, id, jsonb_array_length(context) + (seq - base_seq),
       created_at, updated_at, expires_at, input_tokens, output_tokens, turns
FROM vel_sessions
WHERE (expires_at IS NULL OR expires_at > clock_timestamp())
  AND (%(agent)s::text IS NULL OR agent_id = %(agent)s)
  AND (%(age)s::float8 IS NULL
       OR updated_at < clock_timestamp() - make_interval(secs => %(age)s::float8))
  AND (%(after_a)s::text IS NULL OR (agent_id, id) > (%(after_a)s, %(after_s)s))
ORDER BY agent_id, id
LIMIT %(limit)s
"""
