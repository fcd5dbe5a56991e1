//! `demo hot` and the ranking steps of `demo all`: the hot-products ranking (hot-catalog's
//! score: 10 a paid order line, 2 a like, 3 a review, the stars × 5; docs/hot-ranking.md), as a
//! table with the demo's products marked.

use anyhow::bail;

use super::{
    api::HotProducts,
    context::{get, Demo, HOT},
    wait::{self, when},
};
use crate::{http::Answer, tables};

/// The likes, reviews and paid order lines of a product in the ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub likes: i64,
    pub reviews: i64,
    pub paid_lines: i64,
}

/// What the ranking showed before the likes and the review.
pub struct Before {
    rank_mouse: i64,
    score_mouse: f64,
}

/// GET /api/hot-products?limit=100, printed or not.
pub async fn fetch(demo: &Demo, print: bool) -> anyhow::Result<(Answer, HotProducts)> {
    let req = get(HOT, "/api/hot-products?limit=100");
    let answer = demo
        .call(if print { req } else { req.quiet() }, &[200])
        .await?;
    let hot = answer.json()?;
    Ok((answer, hot))
}

/// A product's counts, `None` while it is not ranked.
pub fn counts(hot: &HotProducts, product: &str) -> Option<Counts> {
    hot.of(product).map(|p| Counts {
        likes: p.like_count,
        reviews: p.review_count,
        paid_lines: p.paid_order_lines,
    })
}

/// Waits until the ranking shows `expected` for `product`.
pub async fn counts_reach(demo: &Demo, product: &str, expected: Counts) -> anyhow::Result<()> {
    let what = format!("ranking of product {product}");
    wait::until(20, &what, || async {
        let (_, hot) = fetch(demo, false).await?;
        let got = counts(&hot, product);
        let shown = got.map_or("//".into(), |c| {
            format!("{}/{}/{}", c.likes, c.reviews, c.paid_lines)
        });
        let seen = format!("product {product} likes/reviews/paid lines = {shown}");
        Ok(when(got == Some(expected), seen))
    })
    .await
    .map(drop)
}

/// The first `top` ranks, plus the demo's products below them.
fn print_table(demo: &Demo, answer: &Answer, top: i64) {
    let mark: Vec<String> = [&demo.state.p1, &demo.state.p2]
        .into_iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect();
    let kind = tables::Kind::Hot { top, mark };
    demo.out.show(&tables::render(&kind, &answer.body));
}

pub async fn ranking(demo: &mut Demo, limit: u32) -> anyhow::Result<()> {
    demo.out.step(format!("Hot products (top {limit})"));
    let path = format!("/api/hot-products?limit={limit}");
    let answer = demo.call(get(HOT, path), &[200]).await?;
    print_table(demo, &answer, limit.into());
    Ok(())
}

pub async fn after_purchases(demo: &mut Demo) -> anyhow::Result<Before> {
    demo.out.step("Hot products after the purchases");
    let (p1, p2) = (demo.state.p1.clone(), demo.state.p2.clone());
    let paid = |paid_lines| Counts {
        likes: 0,
        reviews: 0,
        paid_lines,
    };
    counts_reach(demo, &p1, paid(3)).await?;
    counts_reach(demo, &p2, paid(1)).await?;
    let (answer, hot) = fetch(demo, true).await?;
    print_table(demo, &answer, 5);
    let (Some(keyboard), Some(mouse)) = (hot.of(&p1), hot.of(&p2)) else {
        bail!("the ranking lost product {p1} or {p2}");
    };
    demo.out.ok(format!(
        "keyboard {p1} ranks #{} (3 paid lines × 10), mouse {p2} #{} (1 paid line × 10)",
        keyboard.rank, mouse.rank
    ));
    Ok(Before {
        rank_mouse: mouse.rank,
        score_mouse: mouse.score,
    })
}

pub async fn after_engagement(demo: &mut Demo, before: &Before) -> anyhow::Result<()> {
    demo.out
        .step("Hot products: likes and a review change the ranking");
    let (p1, p2) = (demo.state.p1.clone(), demo.state.p2.clone());
    let engaged = Counts {
        likes: 3,
        reviews: 1,
        paid_lines: 1,
    };
    counts_reach(demo, &p2, engaged).await?;
    let (answer, hot) = fetch(demo, true).await?;
    print_table(demo, &answer, 5);
    let (Some(keyboard), Some(mouse)) = (hot.of(&p1), hot.of(&p2)) else {
        bail!("the ranking lost product {p1} or {p2}");
    };
    if mouse.rank >= keyboard.rank {
        bail!(
            "expected the mouse {p2} above the keyboard {p1} now (ranks: #{}, #{})",
            mouse.rank,
            keyboard.rank
        );
    }
    demo.out.ok(format!(
        "the mouse overtook the keyboard: #{} → #{}, score {:.1} → {:.1} (+3 likes × 2, +1 review × 3, +5 stars × 5)",
        before.rank_mouse, mouse.rank, before.score_mouse, mouse.score
    ));
    Ok(())
}
