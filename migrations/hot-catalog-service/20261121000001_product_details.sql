-- hot-catalog-service: product detail cache for GET /api/hot-products.
-- Scores live in Redis (sorted set); this is only the detail side, fed by catalog.product.*
-- events so the ranking never calls catalog-service. No checks on the values: they were
-- validated by catalog-service, and rejecting them here would only dead-letter good events.

create table product_details (
    product_no bigint primary key,
    seller_no bigint not null,
    name text not null,
    price numeric(19, 2) not null,
    updated_at timestamptz not null default now(),
    -- products.version of the event applied; an upsert applies an event only when its version
    -- is newer (... on conflict do update ... where product_details.source_version < excluded.source_version),
    -- so a late or replayed older event never overwrites newer details
    source_version bigint not null
);
select trigger_updated_at('product_details');
