-- Seed for paymsa_seller: seller 1 ('A'), already ACTIVE with wallet 1 (seeded in
-- paymsa_wallet), i.e. as if the onboarding saga had completed. Small ids never collide with
-- snowflake ids. Idempotent: re-running changes nothing.
insert into sellers (seller_no, seller_id, status, wallet_no)
values (1, 'A', 'ACTIVE', 1)
on conflict do nothing;
