-- wallet-service: a sale no longer locks anything its seller's other sales need.
--
-- With the platform accounts' postings turned into deltas (20261222000001), settlements still
-- queued on the sellers' rows: each sale updated the seller's wallets row and SELLER_PENDING
-- account and held both until commit, so the settlements of a few busy sellers ran one after
-- another (docs/benchmarks.md: settlement lag p50 3 s at 65 paid orders/s with 10 sellers).
--
-- A sale only ever adds to its seller's pending money, and nothing can break a floor by
-- adding, so its SELLER_PENDING credit now goes to ledger_balance_deltas as well, and the
-- wallets row is not touched by the sale at all. ledger_fold_seller() moves a seller's deltas
-- into its account and its wallets.balance, under the wallet row lock: every writer that
-- checks a floor or reads a balance to decide (reversal, release, payout) folds first
-- (services/wallet-service/src/store.rs lock_wallet_by_seller), and the rollup job folds the
-- rest (src/rollup.rs). Readers add the unfolded deltas: ledger_account_balances (previous
-- migration) and the wallet_balances view below.
--
-- What a sale lost — the wallet lock that ordered it against a cancel of the same seller — is
-- now a per-seller advisory lock: settlements take it shared (they do not wait for each
-- other), reversals and onboarding exclusive (services/wallet-service/src/settlement.rs).

create or replace function ledger_apply_posting()
    returns trigger
    language plpgsql
as $$
declare
    account_kind text;
    new_balance numeric;
begin
    -- Platform accounts, and credits to a seller's pending money (sales): a delta row, folded
    -- later; nothing to lock and no floor that an addition could break.
    if exists (select 1 from ledger_accounts
                where id = new.account_id
                  and (kind in ('PSP_CLEARING', 'PLATFORM_FEES')
                       or (kind = 'SELLER_PENDING' and new.amount < 0))) then
        insert into ledger_balance_deltas (account_id, amount)
        select id, new.amount * ledger_normal_sign(kind)
          from ledger_accounts where id = new.account_id;
        return null;
    end if;
    update ledger_accounts
       set balance = balance + new.amount * ledger_normal_sign(kind)
     where id = new.account_id
    returning kind, balance into account_kind, new_balance;
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

-- Folds the seller's deltas into its accounts and its wallet (wallets.balance = pending +
-- available, and the only seller deltas are pending credits); returns the amount folded.
-- Takes the wallet row lock first, like every other writer of the seller, so it cannot
-- deadlock with them.
create function ledger_fold_seller(p_seller bigint)
    returns numeric
    language plpgsql
as $$
declare
    folded numeric;
begin
    perform 1 from wallets where seller_no = p_seller for update;
    with d as (
        delete from ledger_balance_deltas
         where account_id in (select id from ledger_accounts where seller_no = p_seller)
        returning account_id, amount),
    s as (select account_id, sum(amount) as amount from d group by account_id),
    a as (update ledger_accounts l set balance = l.balance + s.amount
            from s where l.id = s.account_id returning s.amount)
    select sum(amount) into folded from a;
    if folded is not null then
        update wallets set balance = balance + folded, version = version + 1
         where seller_no = p_seller;
    end if;
    return coalesce(folded, 0);
end;
$$;

-- A wallet's balance as readers see it: folded + not yet folded.
create view wallet_balances as
select w.wallet_no, w.seller_no,
       w.balance + coalesce((select sum(d.amount)
                               from ledger_balance_deltas d
                               join ledger_accounts a on a.id = d.account_id
                              where a.seller_no = w.seller_no), 0) as balance
  from wallets w;

-- Folding deletes a seller's deltas by account.
create index ledger_balance_deltas_account_id_idx on ledger_balance_deltas (account_id);
