-- The group commit's guard (src/db/message-writer.ts): a batch of sends may be sent behind the one running on the
-- writer's connection, though a sender's messages are in both, when it checks that the one before it committed.
-- Each batch makes its token the connection's `chat.batch` setting; a setting made by a transaction that aborts is
-- undone with it. So the batch behind finds the token of the one before it only if that one committed, and fails
-- with SQLSTATE CH001 (storing nothing) otherwise, to run again behind that one's rerun.
CREATE FUNCTION chat_batch_turn(after text, token text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  IF after IS NOT NULL AND current_setting('chat.batch', true) IS DISTINCT FROM after THEN
    RAISE EXCEPTION 'the batch before this one on the connection did not commit' USING ERRCODE = 'CH001';
  END IF;
  PERFORM set_config('chat.batch', token, false);
  RETURN true;
END
$$;
