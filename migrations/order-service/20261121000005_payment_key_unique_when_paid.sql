-- A payment key names one PSP payment, and one PSP payment pays at most one order. Before an
-- order is paid its stored key is only what a browser redirect claimed; a wrong claim (another
-- order's key, refused by the PSP) must not block the order that really owns the key, so the
-- uniqueness applies to paid orders only.
alter table payment_events drop constraint payment_events_payment_key_key;
create unique index payment_events_payment_key_key on payment_events (payment_key)
    where is_payment_done;
