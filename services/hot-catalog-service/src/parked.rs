//! Likes of products the catalog has not announced (yet), parked in `parked_likes` instead of
//! scored (migrations/hot-catalog-service/20261206000001_parked_likes.sql). A like names any
//! product number, so scoring it at once let one member fill the ranking with products that
//! do not exist. Parked, it waits for its product: the products consumer releases a product's
//! likes right after it stores the product's details, and a sweep every minute releases any a
//! crash left behind and purges those whose product never came (after [`PURGE_AFTER`]).
//!
//! A like and its product's details meet under one lock, the product's advisory lock: a like
//! that found no details is parked before the details commit, and the release that follows
//! them sees it; one that comes after sees the details and is scored at once. So no like waits
//! for a release that already ran. An unlike is parked as its own row too (it never deletes a
//! like): the ranking's Add and Remove commute and are deduped by event id, so a like and its
//! unlike cancel out in any order. A member may have [`PARKED_PER_MEMBER`] rows parked, and
//! past that only the unlikes of likes still parked.
//!
//! A like purged unannounced whose product is announced later (a day on, a catalog outbox
//! stuck that long) is lost; purged.rs keeps its unlike from taking one from the ranking.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use events::LikeChanged;
use prometheus::IntCounterVec;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{clock::Clock, ranking::Ranking, score::Direction};

/// How long a like of a product the catalog never announced is kept.
pub const PURGE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How many parked rows one member may have: a shopper likes a few products in the moment
/// before their announcement; a member naming product after product that does not exist is
/// filling the table (the like service allows 600 writes a minute). Approximate by up to the
/// consumer's concurrency less one: the count and the insert share the product's lock, not
/// the member's.
pub const PARKED_PER_MEMBER: i64 = 100;

/// A parked like or unlike, released into the ranking under its own event id.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ParkedLike {
    pub event_id: Uuid,
    pub product_no: i64,
    pub member_no: i64,
    pub liked_at: DateTime<Utc>,
    pub liked: bool,
}

impl ParkedLike {
    pub fn like(&self) -> LikeChanged {
        LikeChanged {
            product_no: self.product_no,
            member_no: self.member_no,
            liked_at: self.liked_at,
        }
    }

    pub fn direction(&self) -> Direction {
        if self.liked {
            Direction::Add
        } else {
            Direction::Remove
        }
    }
}

/// The product's lock, held to the end of the transaction (see the module's documentation).
pub async fn lock_product(conn: &mut PgConnection, product_no: i64) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(product_no)
        .execute(conn)
        .await
        .map(|_| ())
}

/// What [`park_if_unknown`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parking {
    /// The product has details: the caller scores the event.
    Known,
    /// Parked until the product is announced.
    Parked,
    /// The member has [`PARKED_PER_MEMBER`] parked already: dropped, unless it is an unlike of
    /// a like still parked.
    OverCap,
    /// An unlike of a known product whose like was purged unannounced (purged.rs): not scored.
    Absorbed,
}

/// The like consumer's parking, with the products it has found details for: details are never
/// deleted, so a product found once is known for good, and a like of it costs no Postgres
/// round trip (most likes: of products listed in the shop).
pub struct LikeParking {
    pub pool: PgPool,
    known: std::sync::Mutex<std::collections::HashSet<i64>>,
}

impl LikeParking {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            known: std::sync::Mutex::default(),
        }
    }

    /// [`park_if_unknown`], unless the product is known already; an unlike of a known product
    /// is then offered to the member's purged likes of it (purged.rs).
    pub async fn park_if_unknown(
        &self,
        event_id: Uuid,
        like: &LikeChanged,
        direction: Direction,
    ) -> Result<Parking, sqlx::Error> {
        let seen = |known: &std::sync::Mutex<std::collections::HashSet<i64>>| {
            known
                .lock()
                .map(|set| set.contains(&like.product_no))
                .unwrap_or(false)
        };
        let parking = if seen(&self.known) {
            Parking::Known
        } else {
            park_if_unknown(&self.pool, event_id, like, direction).await?
        };
        if parking != Parking::Known {
            return Ok(parking);
        }
        if let Ok(mut set) = self.known.lock() {
            set.insert(like.product_no);
        }
        let absorbed = direction == Direction::Remove
            && crate::purged::absorb_unlike(&self.pool, event_id, like.member_no, like.product_no)
                .await?;
        Ok(if absorbed {
            Parking::Absorbed
        } else {
            Parking::Known
        })
    }
}

/// Parks a like or unlike of a product without details, as its own signed row: an unlike
/// never deletes a like, so the two cancel out in the ranking (Add and Remove commute, each
/// deduped by its event id) in whatever order they were handled, redelivered or released.
pub async fn park_if_unknown(
    pool: &PgPool,
    event_id: Uuid,
    like: &LikeChanged,
    direction: Direction,
) -> Result<Parking, sqlx::Error> {
    let mut tx = pool.begin().await?;
    lock_product(&mut tx, like.product_no).await?;
    let known: bool =
        sqlx::query_scalar("select exists (select 1 from product_details where product_no = $1)")
            .bind(like.product_no)
            .fetch_one(&mut *tx)
            .await?;
    if known {
        return Ok(Parking::Known);
    }
    // At the cap a like is dropped, and so is an unlike with no parked like of the member's
    // to cancel (its like was dropped too, or never existed); an unlike that has one is parked
    // beside it, or that like would be released and scored for a member who no longer likes
    // the product. So a member's rows stay within the cap plus one unlike per parked like.
    let parked: i64 = sqlx::query_scalar("select count(*) from parked_likes where member_no = $1")
        .bind(like.member_no)
        .fetch_one(&mut *tx)
        .await?;
    if parked >= PARKED_PER_MEMBER {
        let net_likes: i64 = sqlx::query_scalar(
            "select coalesce(sum(case when liked then 1 else -1 end), 0) from parked_likes
              where member_no = $1 and product_no = $2",
        )
        .bind(like.member_no)
        .bind(like.product_no)
        .fetch_one(&mut *tx)
        .await?;
        if direction == Direction::Add || net_likes <= 0 {
            return Ok(Parking::OverCap);
        }
    }
    sqlx::query(
        "insert into parked_likes (event_id, product_no, member_no, liked_at, liked)
         values ($1, $2, $3, $4, $5) on conflict (event_id) do nothing",
    )
    .bind(event_id)
    .bind(like.product_no)
    .bind(like.member_no)
    .bind(like.liked_at)
    .bind(direction == Direction::Add)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Parking::Parked)
}

/// The parked rows of `product_no` (every announced product: `None`) that have details now,
/// at most `limit`, oldest first.
pub async fn releasable(
    conn: &mut PgConnection,
    product_no: Option<i64>,
    limit: i64,
) -> Result<Vec<ParkedLike>, sqlx::Error> {
    sqlx::query_as(
        "select p.event_id, p.product_no, p.member_no, p.liked_at, p.liked
           from parked_likes p join product_details d using (product_no)
          where $1::bigint is null or p.product_no = $1
          order by p.parked_at limit $2",
    )
    .bind(product_no)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Forgets released rows (after the ranking has them).
pub async fn forget(conn: &mut PgConnection, event_ids: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query("delete from parked_likes where event_id = any($1)")
        .bind(event_ids)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Scores parked likes whose product has details now, then forgets them.
#[derive(Clone)]
pub struct LikeRelease {
    pub pool: PgPool,
    pub ranking: Ranking,
    pub clock: Arc<dyn Clock>,
    pub outcomes: IntCounterVec,
}

impl LikeRelease {
    const BATCH: i64 = 500;

    /// Releases the parked likes of `product_no` (all products: `None`), a batch at a time;
    /// returns how many. Each is scored under its own event id, so a like released twice (a
    /// crash before `forget`) counts once.
    pub async fn release(&self, product_no: Option<i64>) -> Result<usize, String> {
        let mut released = 0;
        loop {
            let likes = {
                let mut conn = self.pool.acquire().await.map_err(|e| e.to_string())?;
                releasable(&mut conn, product_no, Self::BATCH)
                    .await
                    .map_err(|e| e.to_string())?
            };
            let model = self.ranking.model();
            for parked in &likes {
                // A released unlike whose like the purge dropped (purged.rs) is not scored.
                if !parked.liked
                    && crate::purged::absorb_unlike(
                        &self.pool,
                        parked.event_id,
                        parked.member_no,
                        parked.product_no,
                    )
                    .await
                    .map_err(|e| e.to_string())?
                {
                    continue;
                }
                let change = model.like(&parked.like(), parked.direction());
                self.ranking
                    .apply(parked.event_id, self.clock.now(), &[change])
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let ids: Vec<Uuid> = likes.iter().map(|l| l.event_id).collect();
            let mut conn = self.pool.acquire().await.map_err(|e| e.to_string())?;
            forget(&mut conn, &ids).await.map_err(|e| e.to_string())?;
            self.outcomes
                .with_label_values(&[crate::consumers::LIKES, "released"])
                .inc_by(likes.len() as u64);
            released += likes.len();
            if (likes.len() as i64) < Self::BATCH {
                return Ok(released);
            }
        }
    }

    /// Every minute: releases what a crash left parked, and purges likes whose product never
    /// came (parked.rs `PURGE_AFTER`).
    pub fn spawn_sweep(self, shutdown: &service_kit::Shutdown) {
        let stop = shutdown.clone();
        shutdown.spawn("parked-likes", async move {
            loop {
                tokio::select! {
                    _ = stop.triggered() => break,
                    _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
                }
                if let Err(e) = self.release(None).await {
                    // never purge then: a product announced a moment ago may be why
                    tracing::warn!(error = %e, "releasing parked likes failed; will retry");
                    continue;
                }
                match self.pool.acquire().await {
                    Ok(mut conn) => match crate::purged::purge(&mut conn).await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(likes = n, "purged likes of products never announced")
                        }
                        Err(e) => tracing::warn!(error = %e, "purging parked likes failed"),
                    },
                    Err(e) => tracing::warn!(error = %e, "purging parked likes failed"),
                }
            }
        });
    }
}
