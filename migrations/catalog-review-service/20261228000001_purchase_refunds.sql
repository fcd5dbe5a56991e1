-- a purchase refunded in full is no longer one: a review needs a purchase the member kept, or
-- buying, reviewing and cancelling would write "bought" reviews at no cost
-- (services/catalog-review-service/src/refunds.rs)

-- each paid order line behind a purchase, and what its cancels refunded so far: a purchase is
-- held while one of its lines is not refunded in full
create table review_purchase_lines (
    payment_order_no bigint primary key,
    member_no bigint not null,
    product_no bigint not null,
    order_id text not null,
    line_amount numeric not null,
    refunded numeric not null default 0,
    constraint review_purchase_lines_refunded_check check (refunded >= 0)
);

create index review_purchase_lines_member_product_idx
    on review_purchase_lines (member_no, product_no);

-- purchases recorded before their lines were stay held whatever is refunded: the first order
-- the row names may not be the only one of the product (only the first was kept), and the new
-- durable replays the week of cancels still in the stream. Both statements change only the
-- catalog (existing rows read the first default), so no row is rewritten at startup.
alter table review_purchases add column lines_unknown boolean not null default true;
alter table review_purchases alter column lines_unknown set default false;

-- each cancel counted once per line, also when it comes again under another event id
create table review_refunds (
    cancel_no bigint not null,
    payment_order_no bigint not null,
    constraint review_refunds_pkey primary key (cancel_no, payment_order_no)
);
