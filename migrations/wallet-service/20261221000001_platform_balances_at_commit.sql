-- wallet-service: the two platform accounts' balances move at commit, not with each posting.
--
-- Every sale and every reversal posts to the one PSP_CLEARING and the one PLATFORM_FEES
-- account. Updating their balance with each posting locked those two rows from the first
-- posting until the settlement committed, so every settlement in the system queued on them
-- (docs/benchmarks.md: a 25 s settlement lag at ~86 paid orders/s). Their postings are now
-- applied by a deferred constraint trigger, at commit: the rows are locked for the commit
-- alone, the balance still equals the postings after every commit, and the PLATFORM_FEES
-- floor is still checked in the posting's own transaction. Seller accounts keep the immediate
-- update: their floors are checked as the entry is posted, under the seller's wallet lock.

create or replace function ledger_apply_posting()
    returns trigger
    language plpgsql
as $$
declare
    account_kind text;
    new_balance numeric;
begin
    update ledger_accounts
       set balance = balance + new.amount * ledger_normal_sign(kind)
     where id = new.account_id and kind not in ('PSP_CLEARING', 'PLATFORM_FEES')
    returning kind, balance into account_kind, new_balance;
    if not found then
        return null; -- a platform account: ledger_apply_platform_posting, at commit
    end if;
    if account_kind = 'SELLER_AVAILABLE' and new_balance < 0 and new.amount > 0
       and (select kind from ledger_entries where id = new.entry_id)
           not in ('REVERSAL', 'OPENING') then
        raise exception 'ledger: % would take SELLER_AVAILABLE (account %) to %',
            (select kind from ledger_entries where id = new.entry_id), new.account_id, new_balance
            using errcode = 'check_violation', constraint = 'ledger_accounts_available_floor';
    end if;
    return null;
end;
$$;

create function ledger_apply_platform_posting()
    returns trigger
    language plpgsql
as $$
begin
    -- both platform rows, in id order, before either is updated: two committing transactions
    -- take them in the same order and cannot deadlock (a no-op once this transaction holds them)
    perform 1 from ledger_accounts
     where kind in ('PSP_CLEARING', 'PLATFORM_FEES') order by id for update;
    update ledger_accounts
       set balance = balance + new.amount * ledger_normal_sign(kind)
     where id = new.account_id and kind in ('PSP_CLEARING', 'PLATFORM_FEES');
    return null;
end;
$$;

create constraint trigger ledger_postings_apply_platform after insert on ledger_postings
    deferrable initially deferred
    for each row execute function ledger_apply_platform_posting();
