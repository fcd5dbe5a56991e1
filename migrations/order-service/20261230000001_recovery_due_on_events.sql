-- order-service: the recovery job finds its work on payment_events, not on the lines, so that
-- a line's status change can be a HOT update (docs/benchmarks.md, stop 30).
--
-- Until now the job scanned payment_orders_recovery_idx (status, updated_at); with status and
-- updated_at in an index, every change of a line wrote a new entry into each of the table's
-- indexes. From this migration on, every attempt sets its event's next_recovery_at when it
-- starts (src/store/mod.rs `start_attempt`: now + RECOVERY_STALE_MS) and a definite outcome
-- clears it, so every order whose outcome is not known yet — EXECUTING or UNKNOWN — is in
-- payment_events_next_recovery_idx, and the job reads that small index
-- (src/store/recovery.rs `due_for_recovery`, `unresolved`, `count_unresolved`).

-- Attempts started before this migration (their next_recovery_at was cleared when they
-- started): due at once. The job's scan still waits until an EXECUTING line is stale before it
-- takes the attempt over, so a live confirm is left alone. An attempt an older instance starts
-- during a rolling deploy and then abandons in a crash is not in the index; reconciliation
-- finds it by the PSP's record (src/reconcile/repair.rs).
update payment_events e
   set next_recovery_at = now()
 where next_recovery_at is null
   and exists (select 1 from payment_orders o
                where o.payment_event_no = e.payment_event_no
                  and o.status in ('EXECUTING', 'UNKNOWN'));

-- Room on each page for a line's next versions: a HOT update must find it on the line's own
-- page. A line is written at checkout and changed two or three times in the next seconds
-- (EXECUTING, SUCCESS, sometimes a cancel); 70 % leaves about a third of the page for them.
-- Pages written from now on are filled to 70 %.
alter table payment_orders set (fillfactor = 70);
