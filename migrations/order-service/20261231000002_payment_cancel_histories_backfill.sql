-- order-service: the state each cancel opened before payment_cancel_histories was in, as one
-- row per cancel (changed_by 'migration'), at the time of its last write (updated_at: a move,
-- a claim or a wallet mark). Its own migration, so the foreign key's lock of the previous one
-- is held only as long as creating the table takes.
insert into payment_cancel_histories (cancel_no, previous_status, new_status, reason,
                                      changed_by, created_at)
select c.cancel_no, null, c.status, coalesce(c.failure_code, 'BEFORE_CANCEL_HISTORY'),
       'migration', c.updated_at
  from payment_cancels c
 where not exists (select 1 from payment_cancel_histories h where h.cancel_no = c.cancel_no);
