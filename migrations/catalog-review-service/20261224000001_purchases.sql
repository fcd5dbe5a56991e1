-- catalog-review-service: who bought what, so a review can require a purchase (issue 14,
-- docs/identity.md). Filled by the consumer `review-purchases` from order.payment.confirmed
-- (services/catalog-review-service/src/purchases.rs); one row per member and product, whatever
-- the number of orders: the first purchase is kept.
create table review_purchases (
    member_no bigint not null,
    product_no bigint not null,
    order_id text not null,             -- the first paid order with the product
    purchased_at timestamptz not null,  -- when that order was approved
    constraint review_purchases_pkey primary key (member_no, product_no)
);

-- one live review per member and product while purchases are required (the API checks it
-- under the purchase row's lock; this index serves that check and the author's own listing)
create index product_reviews_member_product_idx
    on product_reviews (member_no, product_no)
    where deleted_at is null;
