-- Dead-letter replay runs the stored message through the failed consumer's own handler
-- (src/replay.rs): a successful replay resolves the letter once (a resolved letter is never
-- run again), a failed one keeps it open with the handler's error.
--
-- `if not exists`: the columns may come from a service's own
-- 20261230000001_dead_letter_replay.sql (see 301_messaging.sql).
alter table dead_letters
    add column if not exists resolved_at timestamptz,
    add column if not exists last_error text;
