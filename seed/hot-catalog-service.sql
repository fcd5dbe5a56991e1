-- Seed for paymsa_hot_catalog: details of the seeded products 1/2/3. The catalog seed inserts
-- them directly (no catalog.product.created events), so without this the detail cache would
-- never learn them and a liked/ordered seed product would never be shown (the ranking shows only
-- products with details, services/hot-catalog-service/src/api.rs).
-- source_version 0 = products.version of the seeded rows, so any real catalog event
-- (version >= 1) still replaces them. Idempotent: re-running changes nothing.
insert into product_details (product_no, seller_no, name, price, source_version)
values
    (1, 1, '상품A', 1000, 0),
    (2, 1, '상품B', 2000, 0),
    (3, 1, '상품C', 3000, 0)
on conflict do nothing;
