-- catalog-review-service: reviews and their per-product aggregates (DESIGN §6, reviews).

create table product_reviews (
    product_review_no bigint primary key,     -- snowflake
    product_no bigint not null,
    member_no bigint not null,                -- the author; DELETE is owner-only
    title text not null,
    content text not null,
    star_rating smallint not null,            -- starRatingType ONE..FIVE as 1..5
    -- soft delete: the row stays, so a repeated DELETE is a recognisable no-op and
    -- review.product.deleted can carry the rating to subtract (exactly what was added)
    deleted_at timestamptz,
    created_at timestamptz not null default now(),
    constraint product_reviews_title_check check (char_length(title) between 1 and 100),
    constraint product_reviews_content_check check (char_length(content) between 1 and 3000),
    constraint product_reviews_star_rating_check check (star_rating between 1 and 5)
);
-- GET /api/product-reviews/products/{productNo}: live reviews, newest first (review no breaks ties)
create index product_reviews_product_recent_idx
    on product_reviews (product_no, created_at desc, product_review_no desc)
    where deleted_at is null;

-- Per-product aggregates under optimistic locking (version); never negative. The rating sum of
-- n reviews lies between n (all ONE) and 5n (all FIVE), which also catches a count and a sum
-- that drifted apart.
create table product_review_counts (
    product_no bigint primary key,
    review_count bigint not null default 0,
    star_rating_sum bigint not null default 0,
    version bigint not null default 0,
    updated_at timestamptz not null default now(),
    constraint product_review_counts_review_count_check check (review_count >= 0),
    constraint product_review_counts_star_rating_sum_check
        check (star_rating_sum between review_count and 5 * review_count),
    constraint product_review_counts_version_check check (version >= 0)
);
select trigger_updated_at('product_review_counts');
