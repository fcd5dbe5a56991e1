-- wallet-service: the commit-time lock of the platform accounts is FOR NO KEY UPDATE.
--
-- Inserting a posting takes FOR KEY SHARE on its account row (the foreign key). The previous
-- migration's FOR UPDATE conflicts with that, so two sales committing at once each waited for
-- the other's key-share lock: a deadlock (found by `just bench ledger`). FOR NO KEY UPDATE
-- does not conflict with key-share locks and is what the balance update takes anyway (it
-- changes no key column); it still orders the two rows between committing transactions.

create or replace function ledger_apply_platform_posting()
    returns trigger
    language plpgsql
as $$
begin
    perform 1 from ledger_accounts
     where kind in ('PSP_CLEARING', 'PLATFORM_FEES') order by id for no key update;
    update ledger_accounts
       set balance = balance + new.amount * ledger_normal_sign(kind)
     where id = new.account_id and kind in ('PSP_CLEARING', 'PLATFORM_FEES');
    return null;
end;
$$;
