//! The periodic reconciliation's shared progress (migrations/order-service/
//! 20261227000002_reconciliation_runs.sql): a lease so one instance runs at a time, and what
//! the last run left for the next — where it ended, the orders to compare again, the count
//! listed for a person.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Where the last successful run left off, as every instance reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub last_to: Option<DateTime<Utc>>,
    pub unrepaired: i64,
}

pub async fn progress(conn: &mut PgConnection) -> Result<Progress, sqlx::Error> {
    sqlx::query_as!(
        Progress,
        "select last_to, unrepaired from reconciliation_runs",
    )
    .fetch_one(conn)
    .await
}

/// A lease taken or renewed: the progress so far, and the database's clock at that moment —
/// every instance's runs end on that one clock, so their windows meet whatever each host's
/// clock says (found in review).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub progress: Progress,
    pub now: DateTime<Utc>,
}

/// Takes the lease for `lease_secs` unless another instance holds an unexpired one; `None`
/// when it does. The holder renews its own the same way, while its run goes on.
pub async fn lease(
    conn: &mut PgConnection,
    holder: &str,
    lease_secs: f64,
) -> Result<Option<Lease>, sqlx::Error> {
    let row = sqlx::query!(
        "update reconciliation_runs
            set leased_by = $1, leased_until = now() + make_interval(secs => $2)
          where leased_until < now() or leased_by = $1
          returning last_to, unrepaired, now() as \"now!\"",
        holder,
        lease_secs,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| Lease {
        progress: Progress {
            last_to: r.last_to,
            unrepaired: r.unrepaired,
        },
        now: r.now,
    }))
}

pub async fn carried(conn: &mut PgConnection) -> Result<BTreeSet<String>, sqlx::Error> {
    let rows = sqlx::query_scalar!("select order_id from reconciliation_carried")
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// Records a successful run and gives the lease back, unless another instance has taken the
/// lease since; `false` (nothing written) when one has. Call in a
/// transaction: the carried orders are replaced with the progress.
pub async fn finish(
    conn: &mut PgConnection,
    holder: &str,
    to: DateTime<Utc>,
    unrepaired: i64,
    carried: &BTreeSet<String>,
) -> Result<bool, sqlx::Error> {
    let held = sqlx::query!(
        "update reconciliation_runs
            set last_to = $2, unrepaired = $3, leased_by = null, leased_until = '-infinity'
          where leased_by = $1",
        holder,
        to,
        unrepaired,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !held {
        return Ok(false);
    }
    sqlx::query!("delete from reconciliation_carried")
        .execute(&mut *conn)
        .await?;
    let carried: Vec<String> = carried.iter().cloned().collect();
    sqlx::query!(
        "insert into reconciliation_carried (order_id) select * from unnest($1::text[])",
        &carried,
    )
    .execute(conn)
    .await?;
    Ok(true)
}

/// Gives the lease back after a failed run: nothing of it is kept, the next run (any
/// instance's) compares the same orders.
pub async fn release(conn: &mut PgConnection, holder: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "update reconciliation_runs set leased_by = null, leased_until = '-infinity'
          where leased_by = $1",
        holder,
    )
    .execute(conn)
    .await
    .map(drop)
}
