-- catalog-service: products, and the sellers allowed to list them.

create table products (
    product_no bigint primary key,            -- snowflake
    seller_no bigint not null,
    name text not null,
    description text not null default '',
    price numeric(19, 2) not null,
    -- bumped on every change; carried in catalog.product.* events so consumers (hot-catalog's
    -- detail cache) apply an older event never over a newer one
    version bigint not null default 0,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint products_name_check check (char_length(name) between 1 and 200),
    constraint products_description_check check (char_length(description) <= 2000),
    constraint products_price_check check (price > 0),
    constraint products_version_check check (version >= 0)
);
select trigger_updated_at('products');
create index products_seller_no_idx on products (seller_no);

-- Local projection of sellers whose wallet exists (fed by wallet.created / seller events):
-- POST /api/products checks the seller here, because catalog must not read seller's database.
-- No foreign key from products to it: the projection is eventually-consistent input to the
-- service's check, and must stay rebuildable from events without touching products.
create table active_sellers (
    seller_no bigint primary key,
    activated_at timestamptz not null default now()
);
