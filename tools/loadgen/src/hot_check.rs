//! Hot products against a recomputation from the source services' data: likes that still
//! stand, reviews not deleted, SUCCESS order lines, each weighted (docs/architecture.md §6 defaults) and
//! decayed from its own time to the ranking's `asOf`.

use std::collections::{BTreeSet, HashMap};

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::{client::Client, invariants::Checks, stack::Stack, workload::id};

const LIKE: f64 = 2.0;
const REVIEW: f64 = 3.0;
const STAR: f64 = 5.0;
const PAID_LINE: f64 = 10.0;

/// Relative tolerance: sources record their row's time, the events carry their own (the same
/// transaction, microseconds apart), which moves a 24 h-half-life score by ~1e-8.
const TOLERANCE: f64 = 1e-6;

#[derive(Default, Debug, PartialEq)]
struct Tally {
    likes: i64,
    reviews: i64,
    stars: i64,
    lines: i64,
    score: f64,
}

pub async fn check(
    stack: &mut Stack,
    client: &Client,
    paid_lines: &HashMap<i64, Vec<i64>>,
    checks: &mut Checks,
) -> anyhow::Result<()> {
    let ranking = client
        .get("hot-catalog-service", "/api/hot-products?limit=100")
        .await?;
    let as_of: DateTime<Utc> = ranking.body["asOf"]
        .as_str()
        .context("asOf")?
        .parse()
        .context("asOf is RFC 3339")?;
    let half_life_ms = ranking.body["halfLifeSeconds"]
        .as_f64()
        .context("halfLifeSeconds")?
        * 1000.0;
    let now_ms = as_of.timestamp_millis() as f64;
    let decay = |at_ms: i64| (-(now_ms - at_ms as f64) / half_life_ms).exp2();

    let mut expected: HashMap<i64, Tally> = HashMap::new();
    let likes: Vec<(i64, i64)> = sqlx::query_as(
        "select product_no, (extract(epoch from created_at) * 1000)::bigint from product_likes",
    )
    .fetch_all(&stack.db("catalog-like-service").await?)
    .await?;
    for (product, at) in likes {
        let t = expected.entry(product).or_default();
        t.likes += 1;
        t.score += LIKE * decay(at);
    }
    let reviews: Vec<(i64, i16, i64)> = sqlx::query_as(
        "select product_no, star_rating, (extract(epoch from created_at) * 1000)::bigint
           from product_reviews where deleted_at is null",
    )
    .fetch_all(&stack.db("catalog-review-service").await?)
    .await?;
    for (product, stars, at) in reviews {
        let t = expected.entry(product).or_default();
        t.reviews += 1;
        t.stars += i64::from(stars);
        t.score += (REVIEW + STAR * f64::from(stars)) * decay(at);
    }
    for (product, times) in paid_lines {
        let t = expected.entry(*product).or_default();
        t.lines += times.len() as i64;
        t.score += times.iter().map(|&at| PAID_LINE * decay(at)).sum::<f64>();
    }

    // The ranking shows only products the catalog announced (hot-catalog's api.rs): likes and
    // reviews of other product numbers are scored but never shown.
    let known: Vec<i64> = sqlx::query_scalar("select product_no from products")
        .fetch_all(&stack.db("catalog-service").await?)
        .await?;
    let known: BTreeSet<i64> = known.into_iter().collect();
    expected.retain(|product, _| known.contains(product));

    let mut ranked: HashMap<i64, Tally> = HashMap::new();
    for p in ranking.body["products"].as_array().context("products")? {
        let reviews = p["reviewCount"].as_i64().unwrap_or(0);
        let average = p["averageRating"].as_f64().unwrap_or(0.0);
        ranked.insert(
            id(&p["productNo"])?,
            Tally {
                likes: p["likeCount"].as_i64().unwrap_or(0),
                reviews,
                stars: (average * reviews as f64).round() as i64,
                lines: p["paidOrderLines"].as_i64().unwrap_or(0),
                score: p["score"].as_f64().unwrap_or(0.0),
            },
        );
    }
    let products: BTreeSet<i64> = expected.keys().chain(ranked.keys()).copied().collect();
    let zero = Tally::default();
    let mut off = Vec::new();
    let mut worst = 0f64;
    for product in &products {
        let e = expected.get(product).unwrap_or(&zero);
        let r = ranked.get(product).unwrap_or(&zero);
        let error = (e.score - r.score).abs() / e.score.abs().max(1.0);
        worst = worst.max(error);
        let counts_match =
            (e.likes, e.reviews, e.stars, e.lines) == (r.likes, r.reviews, r.stars, r.lines);
        if !counts_match || error > TOLERANCE {
            off.push(format!("product {product}: expected {e:?}, ranked {r:?}"));
        }
    }
    checks.add(
        "hot-product scores = recomputation from sources",
        off.is_empty() && products.len() <= 100,
        if off.is_empty() {
            format!(
                "{} products, counts equal, largest relative score difference {worst:.1e}",
                products.len()
            )
        } else {
            off.join("; ")
        },
    );
    Ok(())
}
