//! The catalog's prices as checkout reads them (`catalog_prices`, migrations/order-service/
//! 20261205000001_catalog_prices.sql). Before, every checkout called catalog-service's
//! `GET /api/products`, a request and a transaction on catalog's database per order; now
//! the `order-catalog-prices` consumer keeps the products from `catalog.product.created` /
//! `.updated`, and a checkout prices its lines inside its own transaction.
//!
//! How stale can a price be? By the event's lag (milliseconds), the same race as a checkout
//! that arrived just before the price change. If the events stall (catalog's relay or the
//! bus down), a row the catalog has not vouched for within `max_age` is not used: the
//! checkout asks catalog-service, as before, and stores its answer. A product not here yet
//! (created before this consumer existed, or the seed's rows, which were never published) is
//! asked for the same way.
//!
//! Every write is guarded by the catalog's row version, so an event and an answer of
//! `GET /api/products` may land in any order and the newest price wins.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use chrono::{DateTime, Utc};

use events::{Event, ProductChanged, ProductCreated, ProductUpdated};
use messaging::{Delivery, Handler, HandlerError};
use sqlx::{PgConnection, PgPool};

use crate::catalog::CatalogProduct;

pub const CONSUMER: &str = "order-catalog-prices";

/// The products of `product_nos`, in that order (repeats included), when every one is here
/// and was confirmed by the catalog within `max_age`; `None` when any is missing or older,
/// so the caller asks catalog-service for all of them.
pub async fn fresh(
    conn: &mut PgConnection,
    product_nos: &[i64],
    max_age: Duration,
) -> Result<Option<Vec<CatalogProduct>>, sqlx::Error> {
    let rows = sqlx::query!(
        "select product_no, seller_no, name, price, source_version
           from catalog_prices
          where product_no = any($1)
            and confirmed_at > now() - make_interval(secs => $2)",
        product_nos,
        max_age.as_secs_f64(),
    )
    .fetch_all(conn)
    .await?;
    let known: HashMap<i64, CatalogProduct> = rows
        .into_iter()
        .map(|r| {
            let product = CatalogProduct {
                product_no: r.product_no,
                seller_no: r.seller_no,
                name: r.name,
                price: r.price,
                version: r.source_version,
            };
            (r.product_no, product)
        })
        .collect();
    Ok(product_nos
        .iter()
        .map(|no| known.get(no).cloned())
        .collect::<Option<Vec<_>>>())
}

/// Stores what the catalog said of `products` at `said_at` (an answer: when it was asked; an
/// event: when the change happened) unless a newer version is already here. The same version
/// only moves `confirmed_at` forward: a late or replayed event (a new durable reads the whole
/// stream) never makes an old word look fresh. Rows go in product order, so two checkouts
/// storing the same products lock them in the same order and cannot deadlock.
pub async fn remember(
    conn: &mut PgConnection,
    products: &[CatalogProduct],
    said_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut latest: BTreeMap<i64, &CatalogProduct> = BTreeMap::new();
    for p in products {
        latest.insert(p.product_no, p); // a checkout may list a product twice; one row each
    }
    let mut nos = Vec::with_capacity(latest.len());
    let mut sellers = Vec::with_capacity(latest.len());
    let mut names = Vec::with_capacity(latest.len());
    let mut prices = Vec::with_capacity(latest.len());
    let mut versions = Vec::with_capacity(latest.len());
    for p in latest.values() {
        nos.push(p.product_no);
        sellers.push(p.seller_no);
        names.push(p.name.clone());
        prices.push(p.price);
        versions.push(p.version);
    }
    sqlx::query!(
        "insert into catalog_prices
                (product_no, seller_no, name, price, source_version, confirmed_at)
         select p.*, $6 from unnest($1::bigint[], $2::bigint[], $3::text[], $4::numeric[],
                                   $5::bigint[]) as p
         order by 1
         on conflict (product_no) do update
            set seller_no = excluded.seller_no, name = excluded.name, price = excluded.price,
                source_version = excluded.source_version,
                confirmed_at = greatest(catalog_prices.confirmed_at, excluded.confirmed_at)
          where catalog_prices.source_version <= excluded.source_version",
        &nos,
        &sellers,
        &names,
        &prices,
        &versions,
        said_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

impl From<ProductChanged> for CatalogProduct {
    fn from(p: ProductChanged) -> Self {
        Self {
            product_no: p.product_no,
            seller_no: p.seller_no,
            name: p.name,
            price: p.price,
            version: p.version,
        }
    }
}

/// `catalog.product.created` / `.updated` into `catalog_prices`. No processed-events claim:
/// the version guard already makes a redelivery or a late event change nothing.
pub struct RememberCatalogPrice {
    pub pool: PgPool,
}

impl Handler for RememberCatalogPrice {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let (product, said_at): (CatalogProduct, _) = match delivery.event.event_type.as_str() {
            ProductCreated::TYPE => {
                let event = delivery.decode::<ProductCreated>()?;
                (event.payload.0.into(), event.occurred_at)
            }
            ProductUpdated::TYPE => {
                let event = delivery.decode::<ProductUpdated>()?;
                (event.payload.0.into(), event.occurred_at)
            }
            other => {
                return Err(HandlerError::reject(format!(
                    "{other} is not a product event"
                )))
            }
        };
        let mut conn = self.pool.acquire().await?;
        remember(&mut conn, std::slice::from_ref(&product), said_at).await?;
        Ok(())
    }
}
