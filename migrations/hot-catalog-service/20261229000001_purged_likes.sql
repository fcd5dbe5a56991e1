-- A like parked for a product the catalog never announced is purged after a day
-- (services/hot-catalog-service/src/purged.rs). If the product is announced after all, the
-- member's unlike of it would take from the ranking a like the ranking never had. So the purge
-- leaves each member's net purged likes of a product here, and an unlike of the product is
-- absorbed by one of them instead of scored.
create table purged_likes (
    member_no bigint not null,
    product_no bigint not null,
    -- likes purged, less unlikes purged, less unlikes absorbed since
    pending integer not null,
    constraint purged_likes_pkey primary key (member_no, product_no)
);

-- the unlikes absorbed, by event id: a redelivered one is absorbed again, never scored
create table absorbed_unlikes (
    event_id uuid primary key,
    absorbed_at timestamptz not null default now()
);
