-- The highest stream sequence among the published rows the purger has deleted (src/store.rs
-- `purge_batch`, `requeue_lost`). A fresh publish acknowledged at or below it proves the stream
-- went back in time — restored from a copy older than the outbox keeps its published rows, or
-- recreated — when no row still held has that sequence to say so. Until stop 31 only a held
-- row could, and what such a broker lost was never published again. One row: an outbox
-- publishes to one stream.
create table if not exists outbox_purged_seq (
    id boolean primary key default true,
    purged_through bigint not null,
    constraint outbox_purged_seq_one_row check (id)
);
