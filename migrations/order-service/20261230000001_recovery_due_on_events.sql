-- order-service: the recovery job finds its work on payment_events, not on the lines, so that
-- a line's status change can be a HOT update (docs/benchmarks.md, "Line updates in place").
--
-- Until now the job scanned payment_orders_recovery_idx (status, updated_at); with status and
-- updated_at in an index, every change of a line wrote a new entry into each of the table's
-- indexes. From this migration on, every order whose outcome is not known yet — lines
-- EXECUTING or UNKNOWN — has a next_recovery_at: an attempt sets 'infinity' ("when stale"),
-- an unknown outcome the backoff's time, a webhook now, and a definite outcome clears it
-- (src/store/recovery_watch.rs). The job starts from payment_events_next_recovery_idx, which
-- holds only those orders (src/store/recovery.rs `due_for_recovery`).

-- Attempts started before this migration (their next_recovery_at was cleared when they
-- started): due at once. The job's scan still waits until an EXECUTING line is stale before it
-- takes the attempt over.
update payment_events e
   set next_recovery_at = now()
 where next_recovery_at is null
   and exists (select 1 from payment_orders o
                where o.payment_event_no = e.payment_event_no
                  and o.status in ('EXECUTING', 'UNKNOWN'));

-- Finished orders that kept one: a failure did not clear it until now, so a webhook that
-- arrived during an attempt that then failed left its time behind.
update payment_events e
   set next_recovery_at = null
 where next_recovery_at is not null
   and not exists (select 1 from payment_orders o
                    where o.payment_event_no = e.payment_event_no
                      and o.status in ('EXECUTING', 'UNKNOWN'));

-- Room on each page for a line's next versions: a HOT update must find it on the line's own
-- page. A line is written at checkout and changed two or three times in the next seconds
-- (EXECUTING, SUCCESS, sometimes a cancel); 70 % leaves about a third of the page for them.
-- Pages written from now on are filled to 70 %.
alter table payment_orders set (fillfactor = 70);
