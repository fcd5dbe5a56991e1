-- Seed for paymsa_catalog: seller 1 is active (the projection wallet.created would have
-- filled) and lists products 1/2/3. Idempotent: re-running changes nothing (and never undoes
-- later edits to these products).
insert into active_sellers (seller_no)
values (1)
on conflict do nothing;

insert into products (product_no, seller_no, name, description, price)
values
    (1, 1, '상품A', '', 1000),
    (2, 1, '상품B', '', 2000),
    (3, 1, '상품C', '', 3000)
on conflict do nothing;
