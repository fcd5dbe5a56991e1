//! Likes purged before their product was announced (parked.rs, [`PURGE_AFTER`]), and the
//! unlikes they absorb (migrations/hot-catalog-service/20261229000001_purged_likes.sql).
//!
//! A purged like was never scored. If its product is announced after all (a day on: a catalog
//! outbox stuck that long), the member's unlike of it finds the product known and would be
//! scored, taking from the ranking a like it never had. So the purge keeps, per member and
//! product, how many more likes than unlikes it dropped, and an unlike of a known product is
//! first offered to that count: absorbed (not scored) while the count is above zero. A
//! redelivered unlike is recognised by its event id and absorbed again.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::parked::PURGE_AFTER;

/// Purges up to 10,000 rows parked longer than [`PURGE_AFTER`] whose product still has no
/// details (one that has is the release's, whatever its age), keeping each member's net purged
/// likes of the product in `purged_likes`, in one statement; how many rows were purged.
pub async fn purge(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let purged: i64 = sqlx::query_scalar(
        "with purged as (
            delete from parked_likes where event_id in (
                select p.event_id from parked_likes p
                 where p.parked_at < now() - make_interval(secs => $1)
                   and not exists (select 1 from product_details d
                                    where d.product_no = p.product_no)
                 limit 10000)
            returning member_no, product_no, liked
         ), net as (
            select member_no, product_no, sum(case when liked then 1 else -1 end)::int as n
              from purged group by member_no, product_no
         ), kept as (
            insert into purged_likes (member_no, product_no, pending)
            select member_no, product_no, n from net where n <> 0
            on conflict (member_no, product_no)
            do update set pending = purged_likes.pending + excluded.pending
         )
         select count(*) from purged",
    )
    .bind(PURGE_AFTER.as_secs_f64())
    .fetch_one(conn)
    .await?;
    Ok(purged as u64)
}

/// Whether the unlike `event_id` of a known product is absorbed by a purged like of the
/// member's (or was, by an earlier delivery): then it is not scored. A redelivery racing the
/// first one fails on `absorbed_unlikes`' key and is retried, so a purged like absorbs one
/// unlike at most.
pub async fn absorb_unlike(
    pool: &PgPool,
    event_id: Uuid,
    member_no: i64,
    product_no: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "with seen as (
            select 1 from absorbed_unlikes where event_id = $1
         ), taken as (
            update purged_likes set pending = pending - 1
             where member_no = $2 and product_no = $3 and pending > 0
               and not exists (select 1 from seen)
            returning 1
         ), recorded as (
            insert into absorbed_unlikes (event_id) select $1 from taken
         )
         select exists (select 1 from seen) or exists (select 1 from taken)",
    )
    .bind(event_id)
    .bind(member_no)
    .bind(product_no)
    .fetch_one(pool)
    .await
}
