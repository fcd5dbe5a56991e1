-- wallet-service: ledger amounts with two decimals, like wallets and wallet_transactions.
--
-- Order amounts are whole won in practice, but the events and the wallet tables carry
-- numeric(19, 2) and a line of 1000.50 has always been credited as such; a whole-won ledger
-- would have to refuse it. Commission stays whole won (floor(amount × rate)); only what the
-- events carry may have cents.
alter table ledger_accounts alter column balance type numeric(19, 2);
alter table ledger_postings alter column amount type numeric(19, 2);
alter table ledger_sales
    alter column gross type numeric(19, 2),
    alter column fee type numeric(19, 2),
    alter column refunded type numeric(19, 2),
    alter column fee_returned type numeric(19, 2),
    alter column net_returned type numeric(19, 2),
    alter column released type numeric(19, 2);
