-- vel-runner session storage, version 1.
--
-- vel_sessions keeps the spec's table and columns (id, context, created_at, updated_at,
-- expires_at), so the spec's own SQL works as written:
--     DELETE FROM vel_sessions WHERE updated_at < NOW() - INTERVAL '7 days';
-- removes those sessions and, through ON DELETE CASCADE, every message that belongs to them.
--
-- Added for scoping and speed:
--   agent_id  sessions belong to an agent; (agent_id, id) is the key.
--   context   the session's pinned leading system messages (its system prompt), a JSON array;
--             every other message is one row of vel_messages, so a turn appends rows instead
--             of rewriting the whole history.
--   summary   the running summary of messages that left the window.
--   seq       the sequence number of the newest message (per session, never reused).
--   base_seq  vel_messages rows with base_seq < seq <= vel_sessions.seq are live; rows at or
--             below base_seq were trimmed (max_history) and deleted.
--   epoch     a new number whenever the session is (re)created or replaced, so a process's
--             cached copy of a session knows it is stale.

CREATE SEQUENCE IF NOT EXISTS vel_session_epoch;

CREATE TABLE IF NOT EXISTS vel_sessions (
    agent_id   TEXT        NOT NULL DEFAULT '',
    id         TEXT        NOT NULL,
    context    JSONB       NOT NULL DEFAULT '[]'::jsonb,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMPTZ,
    summary    TEXT,
    seq        BIGINT      NOT NULL DEFAULT 0,
    base_seq   BIGINT      NOT NULL DEFAULT 0,
    epoch      BIGINT      NOT NULL DEFAULT nextval('vel_session_epoch'),
    PRIMARY KEY (agent_id, id),
    CHECK (base_seq <= seq)
);

-- The Troubleshooting section's indexes: on id and on updated_at.
CREATE INDEX IF NOT EXISTS vel_sessions_id_idx ON vel_sessions (id);
CREATE INDEX IF NOT EXISTS vel_sessions_updated_at_idx ON vel_sessions (updated_at);
CREATE INDEX IF NOT EXISTS vel_sessions_expires_at_idx ON vel_sessions (expires_at)
    WHERE expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS vel_messages (
    agent_id   TEXT   NOT NULL,
    session_id TEXT   NOT NULL,
    seq        BIGINT NOT NULL,
    message    JSONB  NOT NULL,
    PRIMARY KEY (agent_id, session_id, seq),
    FOREIGN KEY (agent_id, session_id) REFERENCES vel_sessions (agent_id, id)
        ON DELETE CASCADE ON UPDATE CASCADE
);
