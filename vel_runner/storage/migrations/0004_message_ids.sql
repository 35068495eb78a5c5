-- vel-runner session storage, version 4: find a stored message by its id.
--
-- Every message a turn stores carries a stable "id" (the answer's is the turn's run id). The
-- OpenAI Responses API continues a conversation from a response id (previous_response_id),
-- and useChat regenerates an answer named by its id: this index leads from the id to the
-- session and the message's position (seq) in one lookup instead of a scan. Rows leave the
-- index with their messages (trimming, replacing, deleting a session).

CREATE INDEX IF NOT EXISTS vel_messages_message_id_idx ON vel_messages ((message->>'id'));
