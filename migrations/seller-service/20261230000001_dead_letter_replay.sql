-- Dead-letter replay runs the stored message through the failed consumer's own handler
-- (libs/messaging/src/replay.rs): a successful replay resolves the letter once (a resolved
-- letter is never run again), a failed one keeps it open with the handler's error.
alter table dead_letters
    add column resolved_at timestamptz,
    add column last_error text;
