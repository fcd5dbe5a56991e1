-- order-service: the currency of an order's amount, stored with it and compared with the PSP's
-- answer (services/order-service/src/psp/outcome.rs, `charged_as_ordered`): a charge in another
-- currency is not this order's charge and is refunded like one of another amount. KRW only
-- for now, as the catalog's prices (migrations/catalog-service/20261224000001_whole_won_prices.sql).
alter table payment_events
    add column currency text not null default 'KRW',
    add constraint payment_events_currency_check check (currency = 'KRW');
