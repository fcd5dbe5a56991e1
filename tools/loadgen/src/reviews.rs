//! A shopper's reviews. Where review-service requires a purchase (`REVIEW_REQUIRES_PURCHASE`,
//! on in jwt mode; docs/identity.md) a member may review only a product of an order they paid,
//! once while the review lives, and a purchase refunded in full is none, so the shopper reviews
//! only products of its own paid orders that it does not cancel and has no live review of (in
//! both modes, so the load is the same). The purchase reaches
//! review-service by `order.payment.confirmed` (durable `review-purchases`), a moment after the
//! confirm answered, or seconds later while review-service or the broker is being restarted:
//! 403 `PURCHASE_REQUIRED` for a product the member paid is asked again for up to
//! [`PURCHASE_PATIENCE`], and only then counts as an error.

use std::time::{Duration, Instant};

use anyhow::bail;
use rand::Rng;
use reqwest::Method;
use serde_json::json;

use crate::{
    client::{Client, Who},
    workload::Shopper,
};

/// How long a paid purchase may take to reach review-service (a chaos run kills it and the
/// broker for up to a few seconds each, and the event waits in the stream meanwhile).
pub const PURCHASE_PATIENCE: Duration = Duration::from_secs(90);

/// What a shopper's reviews came to, summed over shoppers in [`crate::drive::DriveResult`].
#[derive(Debug, Default, Clone)]
pub struct ReviewTally {
    /// 201: review stored.
    pub created: u64,
    /// …of which first answered 403 PURCHASE_REQUIRED (the purchase event still on its way).
    pub created_after_wait: u64,
    /// 403 PURCHASE_REQUIRED answers that were asked again.
    pub purchase_waits: u64,
    /// 409 REVIEW_EXISTS: an earlier attempt of the same review (its answer lost to a killed
    /// instance) had stored it.
    pub exists: u64,
    /// A review was due but the shopper had paid for nothing it had not reviewed yet.
    pub nothing_to_review: u64,
    /// 204: the shopper's own review deleted.
    pub deleted: u64,
}

impl ReviewTally {
    pub fn add(&mut self, other: &ReviewTally) {
        self.created += other.created;
        self.created_after_wait += other.created_after_wait;
        self.purchase_waits += other.purchase_waits;
        self.exists += other.exists;
        self.nothing_to_review += other.nothing_to_review;
        self.deleted += other.deleted;
    }
}

impl Shopper {
    /// Notes the products of an order the shopper paid (confirm answered 200).
    pub fn bought(&mut self, products: &[i64]) {
        for &p in products {
            if !self.bought.contains(&p) {
                self.bought.push(p);
            }
        }
    }

    /// Reviews a product it paid for and has no live review of, if there is one.
    pub async fn review(&mut self, client: &Client) -> anyhow::Result<()> {
        let member = self.member;
        let open: Vec<i64> = self
            .bought
            .iter()
            .copied()
            .filter(|p| !self.reviews.iter().any(|(_, r)| r == p))
            .collect();
        if open.is_empty() {
            self.tally.nothing_to_review += 1;
            return Ok(());
        }
        let product = open[self.rng.random_range(0..open.len())];
        let stars = ["ONE", "TWO", "THREE", "FOUR", "FIVE"][self.rng.random_range(0..5)];
        let body = json!({
            "productNo": product.to_string(),
            "memberNo": member.to_string(),
            "title": "load test",
            "content": format!("{stars} stars from member {member}"),
            "starRatingType": stars,
        });
        let started = Instant::now();
        let mut waited = false;
        loop {
            let answer = client
                .post_as(
                    Who::Member(member),
                    "catalog-review-service",
                    "/api/product-reviews",
                    &body,
                )
                .await?;
            match (answer.status, answer.code().as_str()) {
                (201, _) => {
                    self.tally.created += 1;
                    self.tally.created_after_wait += u64::from(waited);
                    if let Some(no) = answer.body["productReviewNo"].as_str() {
                        self.reviews.push((no.to_string(), product));
                    }
                    return Ok(());
                }
                (403, "PURCHASE_REQUIRED") if started.elapsed() < PURCHASE_PATIENCE => {
                    self.tally.purchase_waits += 1;
                    waited = true;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                (409, "REVIEW_EXISTS") => {
                    // Stored by an attempt whose answer was lost; its number is unknown, so
                    // the shopper will not delete it, nor review the product again.
                    self.tally.exists += 1;
                    self.reviews.push((String::new(), product));
                    return Ok(());
                }
                (status, _) => bail!(
                    "review of product {product} paid by member {member}{}: {status} {}",
                    if waited {
                        format!(" (asked for {:.0?})", started.elapsed())
                    } else {
                        String::new()
                    },
                    answer.body
                ),
            }
        }
    }

    /// Deletes one of its own reviews (one whose number it knows).
    pub async fn delete_review(&mut self, client: &Client) -> anyhow::Result<()> {
        let known: Vec<usize> = (0..self.reviews.len())
            .filter(|&i| !self.reviews[i].0.is_empty())
            .collect();
        if known.is_empty() {
            return Ok(());
        }
        let i = known[self.rng.random_range(0..known.len())];
        let (review, _) = self.reviews.swap_remove(i);
        let member = self.member;
        let path = format!("/api/product-reviews/{review}?memberNo={member}");
        let answer = client
            .call_as(
                Who::Member(member),
                "catalog-review-service",
                Method::DELETE,
                &path,
                None,
                &[],
            )
            .await?;
        if answer.status != 204 {
            bail!(
                "deleting review {review} of member {member}: {} {}",
                answer.status,
                answer.body
            );
        }
        self.tally.deleted += 1;
        Ok(())
    }
}
