//! Likes purged before their product was announced (parked.rs, [`PURGE_AFTER`]), and the
//! unlikes they absorb (migrations/hot-catalog-service/20261229000001_purged_likes.sql).
//!
//! A purged like was never scored. If its product is announced after all (a day on: a catalog
//! outbox stuck that long), the member's unlike of it would be scored, at once or when a parked
//! unlike is released, taking from the ranking a like it never had. So the purge keeps, per
//! member and product, how many more likes than unlikes it dropped, and every unlike of a known
//! product is first offered to that count: absorbed (not scored) while it is above zero. A
//! redelivered unlike is recognised by its event id and absorbed again.
//!
//! The purge takes each product's lock (parked.rs `lock_product`) before it re-reads whether
//! the product is still unannounced, so a release of the same rows, which runs after the
//! details commit under that lock, cannot score a like the purge also counts. Once a product is
//! known, no purge touches it again: a member's count for it only ever falls.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::parked::PURGE_AFTER;

/// Purges up to 10,000 rows parked longer than [`PURGE_AFTER`] whose product still has no
/// details (one that has is the release's, whatever its age), oldest first so a like and its
/// unlike tend to go together, keeping each member's net purged likes of the product in
/// `purged_likes`; how many rows were purged.
pub async fn purge(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let candidates: Vec<Uuid> = sqlx::query_scalar(
        "select event_id from parked_likes
          where parked_at < now() - make_interval(secs => $1)
          order by parked_at limit 10000",
    )
    .bind(PURGE_AFTER.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    if candidates.is_empty() {
        return Ok(0);
    }
    // In product order, so two purges never wait for each other in a circle; a like's parking
    // and a release hold one product's lock at a time.
    sqlx::query(
        "select pg_advisory_xact_lock(product_no)
           from (select distinct product_no from parked_likes
                  where event_id = any($1) order by product_no) p",
    )
    .bind(&candidates)
    .execute(&mut *tx)
    .await?;
    // A statement of its own, after the locks: it sees any details committed before them.
    let purged: i64 = sqlx::query_scalar(
        "with purged as (
            delete from parked_likes p
             where p.event_id = any($1)
               and not exists (select 1 from product_details d where d.product_no = p.product_no)
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
    .bind(&candidates)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(purged as u64)
}

/// Whether the unlike `event_id` of a known product is absorbed by a purged like of the
/// member's (or was, by an earlier delivery): then it is not scored. Most members have no
/// purged like of the product, and that is one read; otherwise the count's row is locked
/// first, so a second copy of the unlike handled at the same time waits and then finds the
/// first one's record.
pub async fn absorb_unlike(
    pool: &PgPool,
    event_id: Uuid,
    member_no: i64,
    product_no: i64,
) -> Result<bool, sqlx::Error> {
    let any: bool = sqlx::query_scalar(
        "select exists (select 1 from purged_likes where member_no = $1 and product_no = $2)",
    )
    .bind(member_no)
    .bind(product_no)
    .fetch_one(pool)
    .await?;
    if !any {
        return Ok(false);
    }
    let mut tx = pool.begin().await?;
    let pending: i32 = sqlx::query_scalar(
        "select pending from purged_likes where member_no = $1 and product_no = $2 for update",
    )
    .bind(member_no)
    .bind(product_no)
    .fetch_one(&mut *tx)
    .await?;
    // After the lock, in a statement of its own: it sees an absorb committed while we waited.
    let seen: bool =
        sqlx::query_scalar("select exists (select 1 from absorbed_unlikes where event_id = $1)")
            .bind(event_id)
            .fetch_one(&mut *tx)
            .await?;
    if seen {
        return Ok(true);
    }
    if pending <= 0 {
        return Ok(false);
    }
    sqlx::query(
        "update purged_likes set pending = pending - 1 where member_no = $1 and product_no = $2",
    )
    .bind(member_no)
    .bind(product_no)
    .execute(&mut *tx)
    .await?;
    sqlx::query("insert into absorbed_unlikes (event_id) values ($1)")
        .bind(event_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}
