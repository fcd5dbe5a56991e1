-- seller-service: sellers and the onboarding saga (DESIGN §6): a seller is PENDING until
-- wallet-service reports wallet.created, then ACTIVE with its wallet_no.

create table sellers (
    seller_no bigint primary key,             -- snowflake
    seller_id text not null,                  -- the seller's chosen public id, e.g. 'A'
    status text not null default 'PENDING',
    wallet_no bigint,                         -- known once wallet.created arrives
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    -- POST /api/sellers with a taken sellerId -> 409
    constraint sellers_seller_id_key unique (seller_id),
    -- a wallet belongs to exactly one seller (nulls do not collide)
    constraint sellers_wallet_no_key unique (wallet_no),
    constraint sellers_seller_id_check check (char_length(seller_id) between 1 and 100),
    constraint sellers_status_check check (status in ('PENDING', 'ACTIVE')),
    -- ACTIVE means "has a wallet": the saga sets both together
    constraint sellers_active_wallet_check check (status <> 'ACTIVE' or wallet_no is not null)
);
select trigger_updated_at('sellers');
