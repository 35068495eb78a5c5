-- vel-runner session storage, version 5: token usage per session.
--
-- Every stored turn adds the tokens its model call reported (input and output) and one turn
-- to its session. Sessions stored before this version read as zero.

ALTER TABLE vel_sessions
    ADD COLUMN IF NOT EXISTS input_tokens  BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS output_tokens BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS turns         BIGINT NOT NULL DEFAULT 0;
