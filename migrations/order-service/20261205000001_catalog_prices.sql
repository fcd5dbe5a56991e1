-- order-service: the catalog's products as a checkout needs them (seller, name, price), kept
-- from catalog.product.created / .updated by the `order-catalog-prices` consumer and from the
-- catalog's own answers (services/order-service/src/prices.rs). A checkout prices its lines
-- from here inside its own transaction instead of calling catalog-service and waiting for
-- catalog's database on every order; a row older than CATALOG_PRICE_MAX_AGE_MS, or a product
-- not here, is asked of catalog-service again, so a stalled event stream costs at most that
-- much staleness. No checks on the values: catalog-service validated them.

create table catalog_prices (
    product_no bigint primary key,
    seller_no bigint not null,
    name text not null,
    price numeric(19, 2) not null,
    -- products.version this row came from; an event or an answer applies only when it is not
    -- older (... on conflict do update ... where catalog_prices.source_version <= excluded
    -- .source_version), so a late older event never brings an old price back
    source_version bigint not null,
    -- when the catalog last vouched for the row (an event or an answer of GET /api/products)
    confirmed_at timestamptz not null default now()
);
