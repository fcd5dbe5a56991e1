-- The stream sequence JetStream gave each published row (src/store.rs). Sequences only grow, so
-- a fresh publish acknowledged with a sequence a published row already holds proves the broker
-- lost messages (a store restored from an older copy, a stream recreated): the relay then
-- publishes again every row from that sequence on, so consumers that had not read them yet
-- still get them (JetStream drops the ones it still has by Nats-Msg-Id).
--
-- `if not exists`: the column and index may come from a service's own
-- 20261231000001_outbox_stream_seq.sql (see 201_outbox.sql).
alter table outbox add column if not exists stream_seq bigint;
create index if not exists outbox_stream_seq_idx on outbox (stream_seq) where status = 'SUCCESS';
