-- wallet-service: postings and balance deltas no longer lock the account row they name.
--
-- A foreign key check takes FOR KEY SHARE on the referenced row until commit. Every SALE and
-- REVERSAL posts to the one PSP_CLEARING and the one PLATFORM_FEES account (and appends a
-- delta row naming each), so every settlement in the system share-locked the same two rows:
-- with 16 settlements in flight, each new locker of a row already share-locked by others makes
-- Postgres create a new multixact holding all of them (an allocation and a copy of the members
-- per lock, and pg_multixact grows until vacuum freezes it). Nothing waits, but the cost grows
-- with concurrency on exactly the rows everyone touches (docs/benchmarks.md, stop 27).
--
-- What the key guaranteed is kept another way: an account is never deleted and its id never
-- changes (the triggers below refuse it, a truncate included), so a row found once stays; ledger_apply_posting()
-- looks the account up (it did already, twice) and refuses a posting to an unknown account
-- with the same error and constraint name the foreign key raised (23503,
-- ledger_postings_account_id_fkey). Deltas are only ever inserted by that function, after the
-- lookup. The entry key (ledger_postings.entry_id) stays: it names the transaction's own new
-- row, which no one else locks.

alter table ledger_postings drop constraint ledger_postings_account_id_fkey;
alter table ledger_balance_deltas drop constraint ledger_balance_deltas_account_id_fkey;

create function ledger_accounts_refuse_removal()
    returns trigger
    language plpgsql
as $$
begin
    raise exception 'ledger: accounts are never deleted nor renumbered (account %)', old.id
        using errcode = 'restrict_violation', constraint = 'ledger_accounts_permanent';
end;
$$;
create trigger ledger_accounts_permanent before delete or update of id on ledger_accounts
    for each row execute function ledger_accounts_refuse_removal();
-- A truncate fires no row trigger; the foreign keys used to refuse it.
create function ledger_accounts_refuse_truncate()
    returns trigger
    language plpgsql
as $$
begin
    raise exception 'ledger: accounts are never deleted (truncate of %)', tg_table_name
        using errcode = 'restrict_violation', constraint = 'ledger_accounts_permanent';
end;
$$;
create trigger ledger_accounts_permanent_table before truncate on ledger_accounts
    for each statement execute function ledger_accounts_refuse_truncate();

-- As 20261223000001, with one lookup of the account instead of two, and the foreign key's
-- check done here.
create or replace function ledger_apply_posting()
    returns trigger
    language plpgsql
as $$
declare
    account_kind text;
    new_balance numeric;
begin
    select kind into account_kind from ledger_accounts where id = new.account_id;
    if not found then
        raise exception 'ledger: posting of entry % to unknown account %',
            new.entry_id, new.account_id
            using errcode = 'foreign_key_violation', constraint = 'ledger_postings_account_id_fkey';
    end if;
    -- Platform accounts, and credits to a seller's pending money (sales): a delta row, folded
    -- later; nothing to lock and no floor that an addition could break.
    if account_kind in ('PSP_CLEARING', 'PLATFORM_FEES')
       or (account_kind = 'SELLER_PENDING' and new.amount < 0) then
        insert into ledger_balance_deltas (account_id, amount)
        values (new.account_id, new.amount * ledger_normal_sign(account_kind));
        return null;
    end if;
    update ledger_accounts
       set balance = balance + new.amount * ledger_normal_sign(kind)
     where id = new.account_id
    returning balance into new_balance;
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
