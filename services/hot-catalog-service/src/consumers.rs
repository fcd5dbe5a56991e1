//! The service's four durable consumers. Three feed the ranking: likes and reviews through
//! [`ScoreEvents`], which turns an event into contributions and applies them with the event's
//! id as dedupe key (atomic with the update, in Redis); paid orders and their cancels
//! (`order.payment.confirmed`, `order.payment.canceled` on one durable, so a cancel usually
//! comes after its purchase) through [`PurchaseEvents`], idempotent per line and cancel. The
//! fourth keeps the product detail cache in Postgres, idempotent through `apply_once` and the
//! version guard, and then scores the product's parked likes ([`LikeRelease`]): a like of a
//! product without details waits in Postgres instead of the ranking (parked.rs).

use std::sync::Arc;

use events::{
    Event, PaymentCanceled, PaymentConfirmed, ProductCreated, ProductLiked, ProductUnliked,
    ProductUpdated, ReviewCreated, ReviewDeleted,
};
use messaging::{apply_once, ConsumerSpec, Delivery, Handler, HandlerError, ServiceRuntime};
use prometheus::IntCounterVec;
use service_kit::StartupError;
use sqlx::PgPool;

use crate::{
    clock::Clock,
    details,
    parked::{self, LikeParking, LikeRelease, Parking},
    purchases::PurchaseEvents,
    ranking::Ranking,
    score::{Change, Direction, ScoreModel},
};

pub const LIKES: &str = "hot-catalog-likes";
pub const REVIEWS: &str = "hot-catalog-reviews";
pub const ORDERS: &str = "hot-catalog-orders";
pub const PRODUCTS: &str = "hot-catalog-products";

/// The contributions an event makes. A type this consumer does not score, a bad rating or an
/// undecodable payload can never succeed: rejected (dead-lettered) at once.
fn changes_for(model: &ScoreModel, delivery: &Delivery) -> Result<Vec<Change>, HandlerError> {
    use Direction::{Add, Remove};
    let review = |r, d| {
        model
            .review(r, d)
            .map(|c| vec![c])
            .map_err(HandlerError::Reject)
    };
    match delivery.event.event_type.as_str() {
        ProductLiked::TYPE => Ok(vec![
            model.like(&delivery.decode::<ProductLiked>()?.payload.0, Add)
        ]),
        ProductUnliked::TYPE => {
            Ok(vec![model.like(
                &delivery.decode::<ProductUnliked>()?.payload.0,
                Remove,
            )])
        }
        ReviewCreated::TYPE => review(&delivery.decode::<ReviewCreated>()?.payload.0, Add),
        ReviewDeleted::TYPE => review(&delivery.decode::<ReviewDeleted>()?.payload.0, Remove),
        other => Err(HandlerError::reject(format!(
            "{other} is not an event the ranking scores"
        ))),
    }
}

/// Likes and reviews into the ranking.
pub struct ScoreEvents {
    pub consumer: &'static str,
    pub ranking: Ranking,
    pub clock: Arc<dyn Clock>,
    pub outcomes: IntCounterVec,
    /// Likes only: a like of a product without details is parked (parked.rs). Reviews need a
    /// purchase (catalog-review-service), so their products are real.
    pub parking: Option<LikeParking>,
}

impl ScoreEvents {
    /// Where a like or unlike went (parked.rs); reviews are always `Known`.
    async fn parking(
        &self,
        parking: &LikeParking,
        delivery: &Delivery,
    ) -> Result<Parking, HandlerError> {
        let (like, direction) = match delivery.event.event_type.as_str() {
            ProductLiked::TYPE => (delivery.decode::<ProductLiked>()?.payload.0, Direction::Add),
            ProductUnliked::TYPE => (
                delivery.decode::<ProductUnliked>()?.payload.0,
                Direction::Remove,
            ),
            _ => return Ok(Parking::Known),
        };
        parking
            .park_if_unknown(delivery.event.event_id, &like, direction)
            .await
            .map_err(|e| HandlerError::retry_because("parking a like", e))
    }
}

impl Handler for ScoreEvents {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let model = self.ranking.model();
        let changes = changes_for(model, delivery)?;
        let now = self.clock.now();
        // Checked before parking too: a released like skips no check.
        model
            .check_times(&changes, now)
            .map_err(HandlerError::Reject)?;
        if let Some(parking) = &self.parking {
            let outcome = match self.parking(parking, delivery).await? {
                Parking::Known => None,
                Parking::Parked => Some("parked"),
                Parking::Absorbed => Some("absorbed"),
                Parking::OverCap => {
                    tracing::warn!(event_id = %delivery.event.event_id,
                        "a member's parked likes are at the cap: like (or unlike of no parked like) of an unannounced product dropped");
                    Some("dropped")
                }
            };
            if let Some(outcome) = outcome {
                self.outcomes
                    .with_label_values(&[self.consumer, outcome])
                    .inc();
                return Ok(());
            }
        }
        let applied = self
            .ranking
            .apply(delivery.event.event_id, now, &changes)
            .await
            // Redis unreachable or busy: the next delivery may well succeed.
            .map_err(|e| HandlerError::retry_because("redis", e))?;
        let outcome = if applied {
            "applied"
        } else {
            // A dead-letter replay reports it (libs/messaging/src/replay.rs).
            messaging::note_duplicate();
            "duplicate"
        };
        self.outcomes
            .with_label_values(&[self.consumer, outcome])
            .inc();
        Ok(())
    }
}

/// `catalog.product.created/updated` into the detail cache, then the product's parked likes
/// into the ranking.
pub struct ProductDetailsCache {
    pub pool: PgPool,
    pub likes: LikeRelease,
}

impl Handler for ProductDetailsCache {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let (event_id, product) = match delivery.event.event_type.as_str() {
            ProductCreated::TYPE => {
                let event = delivery.decode::<ProductCreated>()?;
                (event.event_id, event.payload.0)
            }
            ProductUpdated::TYPE => {
                let event = delivery.decode::<ProductUpdated>()?;
                (event.event_id, event.payload.0)
            }
            other => {
                return Err(HandlerError::reject(format!(
                    "{other} is not a product event"
                )))
            }
        };
        let product = &product;
        apply_once(&self.pool, PRODUCTS, event_id, |conn| {
            Box::pin(async move {
                // A like that found no details has been parked by now (parked.rs).
                parked::lock_product(conn, product.product_no).await?;
                Ok(details::upsert(conn, product).await?)
            })
        })
        .await?;
        // Also on a redelivery: a crash after the commit left the likes parked.
        self.likes
            .release(Some(product.product_no))
            .await
            .map_err(|e| HandlerError::retry(format!("releasing parked likes: {e}")))?;
        Ok(())
    }
}

/// Creates the durables and starts consuming.
pub async fn spawn_all(
    rt: &ServiceRuntime,
    ranking: &Ranking,
    clock: &Arc<dyn Clock>,
) -> Result<(), StartupError> {
    use events::topology::{
        CATALOG, LIKES as LIKES_STREAM, ORDERS as ORDERS_STREAM, REVIEWS as REVIEWS_STREAM,
    };
    let outcomes = rt.metrics.counter_vec(
        "hot_events_total",
        "Ranking events by consumer and outcome (applied, duplicate; likes: parked, released, dropped, absorbed)",
        &["consumer", "outcome"],
    );
    let scored = [
        (
            LIKES,
            LIKES_STREAM,
            vec![ProductLiked::TYPE, ProductUnliked::TYPE],
        ),
        (
            REVIEWS,
            REVIEWS_STREAM,
            vec![ReviewCreated::TYPE, ReviewDeleted::TYPE],
        ),
    ];
    for (durable, stream, subjects) in scored {
        let handler = ScoreEvents {
            consumer: durable,
            ranking: ranking.clone(),
            clock: clock.clone(),
            outcomes: outcomes.clone(),
            parking: (durable == LIKES).then(|| LikeParking::new(rt.pool.clone())),
        };
        rt.consume(ConsumerSpec::new(durable, stream, subjects), handler)
            .await?;
    }
    let purchases = PurchaseEvents {
        consumer: ORDERS,
        ranking: ranking.clone(),
        clock: clock.clone(),
        outcomes: outcomes.clone(),
    };
    let spec = ConsumerSpec::new(
        ORDERS,
        ORDERS_STREAM,
        vec![PaymentConfirmed::TYPE, PaymentCanceled::TYPE],
    );
    rt.consume(spec, purchases).await?;
    let spec = ConsumerSpec::new(
        PRODUCTS,
        CATALOG,
        vec![ProductCreated::TYPE, ProductUpdated::TYPE],
    );
    let likes = LikeRelease {
        pool: rt.pool.clone(),
        ranking: ranking.clone(),
        clock: clock.clone(),
        outcomes: outcomes.clone(),
    };
    likes.clone().spawn_sweep(&rt.shutdown);
    let handler = ProductDetailsCache {
        pool: rt.pool.clone(),
        likes,
    };
    rt.consume(spec, handler).await?;
    Ok(())
}
