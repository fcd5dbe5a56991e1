-- catalog-like-service: likes and their counts (DESIGN §6, likes).

-- One row per (product, member): a repeated like hits product_likes_pkey and changes nothing
-- (insert ... on conflict do nothing; only a real insert bumps the count and emits an event).
create table product_likes (
    product_no bigint not null,
    member_no bigint not null,
    created_at timestamptz not null default now(),
    constraint product_likes_pkey primary key (product_no, member_no)
);

-- Denormalised count so GET /api/catalog-likes/products/{productNo} is one row read,
-- kept under optimistic locking (version) and never negative.
create table product_like_counts (
    product_no bigint primary key,
    like_count bigint not null default 0,
    version bigint not null default 0,
    updated_at timestamptz not null default now(),
    constraint product_like_counts_like_count_check check (like_count >= 0),
    constraint product_like_counts_version_check check (version >= 0)
);
select trigger_updated_at('product_like_counts');
