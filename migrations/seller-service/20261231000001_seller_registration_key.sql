-- seller-service: the Idempotency-Key of POST /api/sellers (stop 32). A client whose 201 was
-- lost and that registered again got 409 SELLER_ID_TAKEN and no sellerNo: the handle was taken
-- by its own first request, for good. With a key, the repeat is answered the seller it made.
-- One key per registration, across clients (registration is open to anyone): keys are random.
alter table sellers add column registration_key text
    constraint sellers_registration_key_key unique;
