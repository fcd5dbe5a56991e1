-- Likes of products the catalog has not announced (yet). A like names any product number
-- (catalog-like-service cannot check it), so scoring them at once let one member fill the
-- ranking with products that do not exist and push the real ones out of GET /api/hot-products.
-- They wait here instead, and are scored when their product's details arrive
-- (services/hot-catalog-service/src/parked.rs); never-announced ones are purged after a day.
create table parked_likes (
    -- the like event's id: scored later under the same id, so Redis' dedupe still holds
    event_id uuid primary key,
    product_no bigint not null,
    member_no bigint not null,
    liked_at timestamptz not null,
    parked_at timestamptz not null default now()
);

-- releasing a product's likes, and an unlike finding its parked like
create index parked_likes_product_idx on parked_likes (product_no, member_no);
-- the purge of never-announced products' likes
create index parked_likes_parked_at_idx on parked_likes (parked_at);
