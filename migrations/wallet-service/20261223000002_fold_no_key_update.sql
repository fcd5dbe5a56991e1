-- wallet-service: the seller fold locks the wallet row FOR NO KEY UPDATE, not FOR UPDATE.
--
-- Every CREDIT a settlement writes references its wallet (wallet_transactions.wallet_no), so
-- the insert holds FOR KEY SHARE on the wallets row until the settlement commits. FOR UPDATE
-- conflicts with that: two settlements of one seller that each applied a parked reversal
-- (which folds) waited for each other's key-share lock — a deadlock — and a payout or release
-- queued behind a stream of settlements (found in review). FOR NO KEY UPDATE does not
-- conflict with key-share locks, still excludes every other writer of the wallet (they all
-- take it), and is what the balance update takes anyway (no key column changes). The same
-- change is made in the code's wallet and account locks (services/wallet-service/src/store.rs,
-- release.rs, rollup.rs, ledger/accounts.rs).

create or replace function ledger_fold_seller(p_seller bigint)
    returns numeric
    language plpgsql
as $$
declare
    folded numeric;
begin
    perform 1 from wallets where seller_no = p_seller for no key update;
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
