-- vel-runner session storage, version 7: find the tool calls that wait for a person.
--
-- A call that needs approval is stored pending in its session: the assistant message that
-- made it carries metadata.approvals, and it stays pending until a tool message answers it
-- (vel_runner/approvals.py). Listing every pending approval (the dashboard, GET /v1/approvals)
-- reads only the messages that ever asked for one, through this partial index, instead of
-- every message of every session.

CREATE INDEX IF NOT EXISTS vel_messages_approvals_idx
    ON vel_messages (agent_id, session_id, seq)
    WHERE message -> 'metadata' ? 'approvals';
