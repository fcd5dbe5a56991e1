//! Placing a checkout: price the products, write the order and (with an `Idempotency-Key`)
//! its stored answer — in one transaction of order-service's database and, while the
//! prices are fresh, without calling catalog-service ([`crate::prices`]). `just bench e2e`
//! counted three commits per checkout before (the key's claim, catalog's price read, the
//! order); now there is one.

use std::time::Duration;

use prometheus::IntCounterVec;
use sqlx::{Postgres, Transaction};

use super::{create_order, keys, request_hash, CheckoutError, CheckoutResult, RequestHash};
use crate::{
    catalog::{CatalogClient, CatalogProduct},
    payments::Payments,
    prices,
};

#[derive(Clone)]
pub struct Checkouts {
    pub payments: Payments,
    pub catalog: CatalogClient,
    /// How long the catalog's word on a price is used before asking again
    /// (`CATALOG_PRICE_MAX_AGE_MS`).
    pub price_max_age: Duration,
    /// `order_checkout_prices_total{source="local|catalog"}`: where checkouts got their prices.
    pub price_sources: IntCounterVec,
}

impl Checkouts {
    /// The member's order of `product_nos`. With a `key`, a repeated request answers what
    /// the first one stored, and another request with the same key is refused.
    pub async fn place(
        &self,
        member_no: i64,
        product_nos: &[i64],
        key: Option<&str>,
    ) -> Result<CheckoutResult, CheckoutError> {
        let keyed = key.map(|k| {
            (
                keys::MemberKey::new(member_no, k),
                request_hash(member_no, product_nos),
            )
        });
        // Twice at most: a key whose holder rolled back while this one waited on it is free.
        for _ in 0..2 {
            let (mut tx, products) = match self.priced(product_nos).await {
                Ok(priced) => priced,
                Err(e @ CheckoutError::Catalog(_)) => {
                    // A stored answer needs no prices: replay it even while the catalog fails.
                    if let Some((key, hash)) = &keyed {
                        if let Some(stored) = self.stored_answer(key, hash).await? {
                            return Ok(stored);
                        }
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            };
            let result = create_order(&mut tx, &self.payments, member_no, &products).await?;
            let Some((key, hash)) = &keyed else {
                tx.commit().await?;
                return Ok(result);
            };
            if keys::store_answer(&mut tx, key, hash, &result).await? {
                tx.commit().await?;
                return Ok(result);
            }
            // The key is someone's: this order never happened; answer as the key says.
            tx.rollback().await?;
            if let Some(stored) = self.stored_answer(key, hash).await? {
                return Ok(stored);
            }
        }
        Err(CheckoutError::KeyInFlight)
    }

    /// An open transaction and the products' prices: read inside it when fresh, else from
    /// catalog-service with no transaction (nor its connection) held across the call — a
    /// request holding one connection while it waits for another deadlocks a busy pool
    /// (tests/tests/e2e/checkout_claims.rs runs a checkout on a pool of one).
    async fn priced(
        &self,
        product_nos: &[i64],
    ) -> Result<(Transaction<'static, Postgres>, Vec<CatalogProduct>), CheckoutError> {
        let mut tx = self.payments.pool.begin().await?;
        if let Some(products) = prices::fresh(&mut tx, product_nos, self.price_max_age).await? {
            self.price_sources.with_label_values(&["local"]).inc();
            return Ok((tx, products));
        }
        tx.rollback().await?;
        let asked_at = chrono::Utc::now();
        let products = self.catalog.products(product_nos).await?;
        self.price_sources.with_label_values(&["catalog"]).inc();
        // Its own statement, not the order's transaction: the order would hold these rows'
        // locks until it commits, queueing every other checkout of the same products. Best
        // effort: the checkout has its prices; a failure here only means asking again.
        let mut conn = self.payments.pool.acquire().await?;
        if let Err(e) = prices::remember(&mut conn, &products, asked_at).await {
            tracing::warn!(error = %service_kit::error_chain(&e), "catalog prices not stored");
        }
        drop(conn);
        Ok((self.payments.pool.begin().await?, products))
    }

    async fn stored_answer(
        &self,
        key: &keys::MemberKey<'_>,
        hash: &RequestHash,
    ) -> Result<Option<CheckoutResult>, CheckoutError> {
        let mut conn = self.payments.pool.acquire().await?;
        keys::stored_answer(&mut conn, key, hash).await
    }
}
