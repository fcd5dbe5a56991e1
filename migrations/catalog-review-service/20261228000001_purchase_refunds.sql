-- a purchase refunded in full is no longer one: a review needs a purchase the member kept, or
-- buying, reviewing and cancelling would write "bought" reviews at no cost
-- (services/catalog-review-service/src/refunds.rs)

-- each paid order line behind a purchase, and what its cancels refunded so far. A purchase is
-- held while one of its lines is not refunded in full; one recorded before this table has no
-- lines and stays held until a cancel of its order arrives.
create table review_purchase_lines (
    payment_order_no bigint primary key,
    member_no bigint not null,
    product_no bigint not null,
    line_amount numeric not null,
    refunded numeric not null default 0,
    constraint review_purchase_lines_refunded_check check (refunded >= 0)
);

create index review_purchase_lines_member_product_idx
    on review_purchase_lines (member_no, product_no);

-- each cancel counted once per line, also when it comes again under another event id
create table review_refunds (
    cancel_no bigint not null,
    payment_order_no bigint not null,
    constraint review_refunds_pkey primary key (cancel_no, payment_order_no)
);
