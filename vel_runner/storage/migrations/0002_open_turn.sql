-- vel-runner session storage, version 2: open a turn in one call.
--
-- vel_open_turn takes the session's advisory lock (held until the transaction ends), locks
-- its row, and returns the row with the live messages after p_after (a seq the caller has
-- cached, or 0), at most the last p_window of them (NULL: all), as one JSON array. Each
-- statement of a VOLATILE function takes a fresh snapshot, so what it reads after the lock
-- includes every turn committed before it. No row: the session does not exist.

CREATE OR REPLACE FUNCTION vel_open_turn(
    p_agent TEXT, p_session TEXT, p_lock BIGINT, p_after BIGINT, p_window BIGINT)
RETURNS TABLE (epoch BIGINT, seq BIGINT, base_seq BIGINT, context JSONB, summary TEXT,
               expired BOOLEAN, tail JSON)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    s vel_sessions%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    SELECT * INTO s FROM vel_sessions v
    WHERE v.agent_id = p_agent AND v.id = p_session
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT
        s.epoch, s.seq, s.base_seq, s.context, s.summary,
        (s.expires_at IS NOT NULL AND s.expires_at <= clock_timestamp()),
        (SELECT COALESCE(json_agg(m.message ORDER BY m.seq), '[]'::json)
         FROM vel_messages m
         WHERE m.agent_id = p_agent AND m.session_id = p_session
           AND m.seq > GREATEST(p_after, s.base_seq, s.seq - p_window));
END
$$;
