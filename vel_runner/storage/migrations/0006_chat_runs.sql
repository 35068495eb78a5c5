-- vel-runner session storage, version 6: chat answers in flight, for a resume on any host.
--
-- A useChat page that reloads in the middle of an answer asks for it again
-- (GET .../chat/{chat_id}/stream); with several processes or hosts that request may reach
-- one that is not writing the answer. vel_chat_runs says which process writes each chat's
-- answer now (one row per chat, replaced by the next answer; alive_at is its heartbeat,
-- ended_at set when the answer is done; question: the user message it answers, shown by a
-- page reloaded mid-answer before the turn stores it). When another process follows an
-- answer, the writer copies the answer's stream frames into vel_chat_frames for it (only then: an answer
-- nobody resumes elsewhere writes no frames); the rows go a while after the answer ends.

CREATE TABLE IF NOT EXISTS vel_chat_runs (
    agent_id   TEXT        NOT NULL,
    session_id TEXT        NOT NULL,
    run_id     TEXT        NOT NULL,
    owner      TEXT        NOT NULL,
    question   JSONB,
    started_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    alive_at   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    ended_at   TIMESTAMPTZ,
    PRIMARY KEY (agent_id, session_id)
);

CREATE TABLE IF NOT EXISTS vel_chat_frames (
    run_id     TEXT        NOT NULL,
    seq        INTEGER     NOT NULL,
    frame      BYTEA       NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (run_id, seq)
);

CREATE INDEX IF NOT EXISTS vel_chat_frames_created_idx ON vel_chat_frames (created_at);
CREATE INDEX IF NOT EXISTS vel_chat_runs_owner_idx ON vel_chat_runs (owner) WHERE ended_at IS NULL;
