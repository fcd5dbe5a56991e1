-- catalog-service: prices are whole won in KRW (issue 14). KRW has no minor unit and the PSP
-- refuses a fractional amount, so a price of 1000.5 made every checkout of the product fail at
-- the PSP. The API refuses fractions (services/catalog-service/src/api.rs); the table backs it
-- up. `not valid`: rows written before are not re-checked (an existing deployment may hold
-- such prices; they are fixed by a PATCH), every new or changed row is.
alter table products
    add column currency text not null default 'KRW',
    add constraint products_currency_check check (currency = 'KRW'),
    add constraint products_price_whole_won_check check (price = trunc(price)) not valid;
