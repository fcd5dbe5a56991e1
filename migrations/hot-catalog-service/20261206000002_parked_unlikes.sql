-- Unlikes are parked as their own rows too (services/hot-catalog-service/src/parked.rs): an
-- unlike that deleted a parked like could run before its like (retries, four at a time) and
-- then count that like for good, or delete a member's later like as well. Kept as signed rows,
-- a like and its unlike cancel out in the ranking in any order.
alter table parked_likes add column liked boolean not null default true;
alter table parked_likes alter column liked drop default;

-- releasing a product's rows; no unlike looks up its like any more
drop index parked_likes_product_idx;
create index parked_likes_product_idx on parked_likes (product_no);
-- the per-member cap (parked.rs PARKED_PER_MEMBER)
create index parked_likes_member_idx on parked_likes (member_no);
