-- vel-runner session storage, version 3: a turn holds no connection while the model answers.
--
-- Until version 2 a turn opened a transaction, took the session's lock and kept both (and a
-- pool connection) until the model had replied: seconds to minutes "idle in transaction",
-- and a process could run only as many turns at once as its pool had connections. Now a turn
-- takes a session-level advisory lock on one of a few long-lived connections of its process,
-- reads, and lets go of every connection while the model runs; its write and the unlock then
-- travel together. Turns on one session stay serialized across processes; a process that dies
-- loses its connections and with them its locks.

-- Version 2's way of opening a turn (a transaction held through the model call).
DROP FUNCTION IF EXISTS vel_open_turn(TEXT, TEXT, BIGINT, BIGINT, BIGINT);

-- The advisory lock key of a session, the same in SQL and in every process.
CREATE OR REPLACE FUNCTION vel_lock_key(p_agent TEXT, p_session TEXT) RETURNS BIGINT
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtextextended(length(p_agent)::text || ':' || p_agent || p_session, 7661)
$$;

-- Try to lock the session for a turn (session-level: the lock outlives this statement's
-- transaction) and, if that worked, read its row and the live messages after p_after, at most
-- the last p_window (NULL: all), as one JSON array. locked = false: another process's turn
-- holds it; locked with a NULL epoch: the session does not exist. The read runs after the lock
-- is taken and, in a VOLATILE function, on a fresh snapshot: it sees the turn before it.
CREATE OR REPLACE FUNCTION vel_begin_turn(
    p_agent TEXT, p_session TEXT, p_after BIGINT, p_window BIGINT)
RETURNS TABLE (locked BOOLEAN, epoch BIGINT, seq BIGINT, base_seq BIGINT, context JSONB,
               summary TEXT, expired BOOLEAN, tail JSON)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    s vel_sessions%ROWTYPE;
BEGIN
    IF NOT pg_try_advisory_lock(vel_lock_key(p_agent, p_session)) THEN
        RETURN QUERY SELECT false, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::JSONB,
                            NULL::TEXT, NULL::BOOLEAN, NULL::JSON;
        RETURN;
    END IF;
    SELECT * INTO s FROM vel_sessions v WHERE v.agent_id = p_agent AND v.id = p_session;
    IF NOT FOUND THEN
        RETURN QUERY SELECT true, NULL::BIGINT, NULL::BIGINT, NULL::BIGINT, NULL::JSONB,
                            NULL::TEXT, NULL::BOOLEAN, NULL::JSON;
        RETURN;
    END IF;
    RETURN QUERY SELECT
        true, s.epoch, s.seq, s.base_seq, s.context, s.summary,
        (s.expires_at IS NOT NULL AND s.expires_at <= clock_timestamp()),
        (SELECT COALESCE(json_agg(m.message ORDER BY m.seq), '[]'::json)
         FROM vel_messages m
         WHERE m.agent_id = p_agent AND m.session_id = p_session
           AND m.seq > GREATEST(p_after, s.base_seq, s.seq - p_window));
END
$$;

-- Sessions a turn holds right now (their advisory lock is granted to some connection): the
-- cleanup of inactive sessions leaves them alone.
CREATE OR REPLACE VIEW vel_busy_sessions AS
SELECT (classid::BIGINT << 32) | objid::BIGINT AS lock_key
FROM pg_locks
WHERE locktype = 'advisory' AND objsubid = 1 AND granted;
