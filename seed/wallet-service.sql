-- Seed for paymsa_wallet: wallet 1 of seller 1, empty. Idempotent: re-running changes nothing
-- (in particular it never resets a balance that settlements have since credited).
insert into wallets (wallet_no, seller_no, balance)
values (1, 1, 0)
on conflict do nothing;
