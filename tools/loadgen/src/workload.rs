//! What the load is made of: a market (sellers onboarded through the saga, their products
//! listed), and shoppers who check out 1–3 products, approve in the sandbox's payment window,
//! confirm, and now and then like, unlike, review (crate::reviews) or delete a review. What a
//! payment's journey adds (wrong keys, cancels, faults) is in [`crate::journey`]. Each call is
//! made as the member or seller acting (crate::identity).

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    client::{Answer, Client, Who},
    reviews::ReviewTally,
};

#[derive(Debug, Clone)]
pub struct Product {
    pub no: i64,
    pub seller: i64,
}

pub struct Market {
    pub sellers: Vec<i64>,
    pub products: Vec<Product>,
}

/// Ids are written as strings by the APIs (JavaScript-safe); numbers are accepted too.
pub fn id(value: &Value) -> anyhow::Result<i64> {
    value
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| value.as_i64())
        .ok_or_else(|| anyhow!("not an id: {value}"))
}

/// Registers `sellers` sellers, waits for each to become ACTIVE, and lists `per_seller`
/// products for each once the catalog knows the seller (prices are whole won, 1,000–50,000).
pub async fn open_market(
    client: &Client,
    tag: &str,
    sellers: usize,
    per_seller: usize,
    seed: u64,
) -> anyhow::Result<Market> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut market = Market {
        sellers: Vec::new(),
        products: Vec::new(),
    };
    for i in 0..sellers {
        let answer = client
            .post(
                "seller-service",
                "/api/sellers",
                &json!({ "sellerId": format!("{tag}-seller-{i}") }),
            )
            .await?;
        expect(&answer, 201, "registering a seller")?;
        market.sellers.push(id(&answer.body["sellerNo"])?);
    }
    for &seller in &market.sellers {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = client
                .get("seller-service", &format!("/api/sellers/{seller}"))
                .await?;
            if answer.body["status"] == "ACTIVE" {
                break;
            }
            if Instant::now() > deadline {
                bail!("seller {seller} not ACTIVE after 60 s: {}", answer.body);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for p in 0..per_seller {
            let price = rng.random_range(10..=500) * 100;
            let body = json!({
                "sellerNo": seller.to_string(),
                "name": format!("{tag} product {seller}-{p}"),
                "price": price.to_string(),
            });
            let deadline = Instant::now() + Duration::from_secs(60);
            let created = loop {
                let answer = client
                    .post_as(
                        Who::Seller(seller),
                        "catalog-service",
                        "/api/products",
                        &body,
                    )
                    .await?;
                // 422 until the catalog has seen `seller.activated`.
                if answer.status != 422 || Instant::now() > deadline {
                    break answer;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            expect(&created, 201, "listing a product")?;
            market.products.push(Product {
                no: id(&created.body["productNo"])?,
                seller,
            });
        }
    }
    Ok(market)
}

pub(crate) fn expect(answer: &Answer, status: u16, what: &str) -> anyhow::Result<()> {
    if answer.status != status {
        bail!("{what}: {} {}", answer.status, answer.body);
    }
    Ok(())
}

/// How a confirm ended, as the shopper saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 200 SUCCESS.
    Paid,
    /// 202 UNKNOWN: the recovery job finishes it.
    Pending,
    /// 422 with the PSP's final error code.
    Declined(String),
    /// Any other 4xx (e.g. a retried confirm of a payment already being executed).
    Refused(u16, String),
}

pub struct PaymentRecord {
    pub order_id: String,
    pub outcome: Outcome,
    pub confirm_latency: Duration,
    /// What a confirm with a wrong paymentKey, sent first, answered (status, code).
    pub wrong_key: Option<(u16, String)>,
    /// The cancels the shopper asked for after (or while) paying.
    pub cancels: Vec<crate::cancel::CancelRecord>,
    /// In an open-loop run, when the payment was due and how it went against that.
    pub schedule: Option<crate::open_loop::Schedule>,
}

/// A checked-out order the customer approved in the sandbox's payment window.
pub struct Approved {
    /// The shopper, whose token confirms and cancels it.
    pub member: i64,
    pub order_id: String,
    /// The products ordered.
    pub products: Vec<i64>,
    /// As order-service wrote it (a string of whole won).
    pub amount: Value,
    pub amount_won: i64,
    pub payment_key: Value,
}

/// How often a shopper does something besides paying, per payment.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    pub like: f64,
    pub unlike: f64,
    pub review: f64,
    pub delete_review: f64,
}

impl Mix {
    /// What every run uses: 30 % like, 5 % unlike, 10 % review, 2 % review delete.
    pub const USUAL: Mix = Mix {
        like: 0.3,
        unlike: 0.05,
        review: 0.1,
        delete_review: 0.02,
    };
}

pub struct Shopper {
    pub member: i64,
    pub(crate) rng: SmallRng,
    /// Its live reviews: (productReviewNo, productNo); the number is empty when unknown.
    pub(crate) reviews: Vec<(String, i64)>,
    /// Products of orders it paid, the ones it may review.
    pub(crate) bought: Vec<i64>,
    pub tally: ReviewTally,
}

impl Shopper {
    pub fn new(member: i64, seed: u64) -> Self {
        Self {
            member,
            rng: SmallRng::seed_from_u64(
                seed ^ (member as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ),
            reviews: Vec::new(),
            bought: Vec::new(),
            tally: ReviewTally::default(),
        }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    fn pick<'a>(&mut self, market: &'a Market) -> &'a Product {
        &market.products[self.rng.random_range(0..market.products.len())]
    }

    /// Checkout of 1–3 products, then the customer's approval in the sandbox.
    pub async fn approve(&mut self, client: &Client, market: &Market) -> anyhow::Result<Approved> {
        let lines = self.rng.random_range(1..=3usize);
        let mut products: Vec<i64> = Vec::new();
        while products.len() < lines.min(market.products.len()) {
            let no = self.pick(market).no;
            if !products.contains(&no) {
                products.push(no);
            }
        }
        let product_nos: Vec<String> = products.iter().map(i64::to_string).collect();
        let key = uuid::Uuid::new_v4().to_string();
        let checkout = client
            .call_as(
                Who::Member(self.member),
                "order-service",
                Method::POST,
                "/api/checkouts",
                Some(&json!({ "memberNo": self.member.to_string(), "productNos": product_nos })),
                &[("Idempotency-Key", &key)],
            )
            .await?;
        expect(&checkout, 201, "checkout")?;
        let order_id = checkout.body["orderId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let amount = checkout.body["amount"].clone();
        let amount_won = amount
            .as_str()
            .and_then(|s| s.split('.').next())
            .and_then(|s| s.parse().ok())
            .or_else(|| amount.as_i64())
            .ok_or_else(|| anyhow!("checkout amount {amount}"))?;
        let approval = client
            .post(
                "psp-sandbox",
                "/sandbox/approvals",
                &json!({ "orderId": order_id, "amount": amount, "orderName": checkout.body["orderName"] }),
            )
            .await?;
        // 200 is the sandbox's answer to an approval it already made: right only for a retry
        // whose earlier try was cut off (the sandbox died after committing it).
        if !(approval.status == 200 && approval.unanswered > 0) {
            expect(&approval, 201, "sandbox approval")?;
        }
        Ok(Approved {
            member: self.member,
            order_id,
            products,
            amount,
            amount_won,
            payment_key: approval.body["paymentKey"].clone(),
        })
    }

    /// `POST /api/payments/confirm` with `payment_key`: the answer and how long it took.
    pub async fn confirm(
        client: &Client,
        order: &Approved,
        payment_key: &Value,
    ) -> anyhow::Result<(Answer, Duration)> {
        let body = json!({
            "paymentKey": payment_key,
            "orderId": order.order_id,
            "amount": order.amount,
        });
        let started = Instant::now();
        let confirm = client
            .post_as(
                Who::Member(order.member),
                "order-service",
                "/api/payments/confirm",
                &body,
            )
            .await?;
        Ok((confirm, started.elapsed()))
    }

    /// Likes, unlikes, reviews and review deletions, each with its probability in `mix`.
    pub async fn browse(
        &mut self,
        client: &Client,
        market: &Market,
        mix: Mix,
    ) -> anyhow::Result<()> {
        let member = self.member;
        for (p, method) in [(mix.like, Method::POST), (mix.unlike, Method::DELETE)] {
            if self.chance(p) {
                let product = self.pick(market).no;
                let path = format!("/api/catalog-likes/products/{product}/members/{member}");
                client
                    .call_as(
                        Who::Member(member),
                        "catalog-like-service",
                        method,
                        &path,
                        None,
                        &[],
                    )
                    .await?;
            }
        }
        if self.chance(mix.review) {
            self.review(client).await?;
        }
        if !self.reviews.is_empty() && self.chance(mix.delete_review) {
            self.delete_review(client).await?;
        }
        Ok(())
    }
}
