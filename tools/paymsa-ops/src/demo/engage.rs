//! `demo like` and `demo review`: engagement that feeds the ranking (catalog-like-service and
//! catalog-review-service publish it; hot-catalog counts it).

use serde_json::{json, Value};

use super::{
    api::{Like, Review, ReviewSummary},
    context::{get, post, Demo, LIKE, REVIEW},
};

/// The product a single flow engages with: given, else the demo's mouse, else seed product 2.
fn product_or_default(demo: &Demo, product: Option<String>) -> String {
    product.unwrap_or_else(|| demo.mouse_or_seed())
}

/// A like by `member` (and in the whole demo by the two members after it), then the same like
/// again: 200, nothing changes.
pub async fn like(demo: &mut Demo, product: Option<String>, member: &str) -> anyhow::Result<()> {
    let product = product_or_default(demo, product);
    demo.out.step(format!("Likes on {}", demo.label(&product)));
    let mut members = vec![member.to_string()];
    if demo.all {
        let first: i64 = member.parse()?;
        members.extend([first + 1, first + 2].map(|m| m.to_string()));
    }
    let path = |m: &str| format!("/api/catalog-likes/products/{product}/members/{m}");
    for m in &members {
        let liked: Like = demo
            .call(post(LIKE, path(m), Value::Null), &[201, 200])
            .await?
            .json()?;
        demo.out.ok(format!(
            "member {m} likes it (changed={}) → likeCount {}",
            liked.changed, liked.like_count
        ));
    }
    let again: Like = demo
        .call(post(LIKE, path(member), Value::Null), &[200])
        .await?
        .json()?;
    demo.out.ok(format!(
        "a repeated like changes nothing: 200, changed={}, likeCount {}",
        again.changed, again.like_count
    ));
    Ok(())
}

pub async fn review(
    demo: &mut Demo,
    product: Option<String>,
    member: &str,
    stars: &str,
) -> anyhow::Result<()> {
    let product = product_or_default(demo, product);
    let label = demo.label(&product);
    demo.out.step(format!("A {stars}-star review of {label}"));
    let body = json!({
        "productNo": product,
        "memberNo": member,
        "title": "Great",
        "content": "Works as described, fast delivery.",
        "starRatingType": stars,
    });
    let review: Review = demo
        .call(post(REVIEW, "/api/product-reviews", body), &[201])
        .await?
        .json()?;
    demo.out.ok(format!(
        "review {} by member {member}: {}",
        review.product_review_no, review.star_rating_type
    ));
    let path = format!("/api/product-reviews/products/{product}");
    let summary: ReviewSummary = demo.call(get(REVIEW, path), &[200]).await?.json()?;
    demo.out.ok(format!(
        "{label}: {} review(s), average {}",
        summary.review_count, summary.average_rating
    ));
    Ok(())
}
