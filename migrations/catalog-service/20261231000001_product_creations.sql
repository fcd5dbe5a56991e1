-- catalog-service: the Idempotency-Key of POST /api/products (stop 32). A seller's client that
-- retried a create after a lost answer made a second product and a second
-- catalog.product.created; with a key, the repeat is answered the first product.
create table product_creations (
    seller_no bigint not null,
    idempotency_key text not null,
    -- the request as it was read (name trimmed, description, price): the same key with another
    -- request is refused, not answered with a product it did not ask for
    request jsonb not null,
    product_no bigint not null references products (product_no),
    created_at timestamptz not null default now(),
    primary key (seller_no, idempotency_key)
);
