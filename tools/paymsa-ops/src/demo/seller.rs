//! `demo seller` and `demo products`: a seller through the onboarding saga (seller.registered
//! → wallet-service creates the wallet → wallet.created → ACTIVE), then two products; the
//! catalog takes them once it has heard seller.activated.

use anyhow::bail;
use serde_json::json;

use super::{
    api::{Product, ProductList, Seller},
    context::{get, post, Demo, CATALOG, SELLER},
    wait::{self, Poll},
};
use crate::{http::Answer, style::fmt_ms};

pub async fn register(demo: &mut Demo, seller_id: Option<String>) -> anyhow::Result<()> {
    demo.out
        .step("Register a seller — the onboarding saga reaches ACTIVE");
    let seller_id = seller_id.unwrap_or_else(|| {
        let now = chrono::Local::now();
        let random = now.timestamp_subsec_nanos() % 32768;
        format!("demo-seller-{}-{random}", now.format("%Y%m%d-%H%M%S"))
    });
    let answer = demo
        .call(
            post(SELLER, "/api/sellers", json!({ "sellerId": seller_id })),
            &[201],
        )
        .await?;
    let seller: Seller = answer.json()?;
    let no = seller.seller_no;
    demo.out.ok(format!(
        "seller {no} \"{seller_id}\" registered: {}",
        seller.status
    ));
    demo.out.note(
        "saga: seller.registered → wallet-service creates the wallet → wallet.created → seller ACTIVE",
    );
    let path = format!("/api/sellers/{no}");
    let (wallet, took) = wait::until(30, &format!("seller {no} ACTIVE"), || async {
        let seller: Seller = demo
            .call(get(SELLER, &path).quiet(), &[200])
            .await?
            .json()?;
        Ok(match seller.status.as_str() {
            "ACTIVE" => Poll::Done(seller.wallet_no.unwrap_or_default()),
            _ => Poll::NotYet(seller.status),
        })
    })
    .await?;
    demo.out.ok(format!(
        "ACTIVE after {}, wallet {wallet}",
        fmt_ms(took.as_millis())
    ));
    let state = &mut demo.state;
    state.seller_no = no;
    state.seller_id = seller_id;
    for field in [
        &mut state.p1,
        &mut state.p2,
        &mut state.p1_price,
        &mut state.p2_price,
    ] {
        field.clear();
    }
    demo.save()
}

/// A product of the demo seller: the answer once it was created; not yet while the catalog
/// has not heard of the seller's activation (422 SELLER_NOT_ACTIVE); anything else fails.
async fn try_create(demo: &Demo, name: &str, price: u32) -> anyhow::Result<Poll<(Answer, String)>> {
    let body = json!({
        "sellerNo": demo.state.seller_no,
        "name": name,
        "description": "paymsa demo",
        "price": price,
    });
    let answer = demo.send(&post(CATALOG, "/api/products", body)).await?;
    match answer.status {
        201 => {
            let product: Product = answer.json()?;
            Ok(Poll::Done((answer, product.product_no)))
        }
        422 if answer.code() == "SELLER_NOT_ACTIVE" => Ok(Poll::NotYet(answer.problem())),
        422 => bail!("POST /api/products answered 422: {}", answer.problem()),
        status => bail!("POST /api/products answered {status}: {}", answer.problem()),
    }
}

pub async fn products(demo: &mut Demo) -> anyhow::Result<()> {
    if demo.state.seller_no.is_empty() {
        register(demo, None).await?;
    }
    let seller = demo.state.seller_no.clone();
    demo.out
        .step(format!("List two products for seller {seller}"));
    let shown = post(CATALOG, "/api/products", serde_json::Value::Null).shown();
    let what = format!("catalog accepting products of seller {seller}");
    let ((answer, p1), waited) =
        wait::until(20, &what, || try_create(demo, "Mechanical keyboard", 45000)).await?;
    demo.out.call("POST", &shown, answer.status, answer.took);
    let later = if waited.as_millis() > 300 {
        format!(
            " (the catalog learned of the activation from seller.activated {} later)",
            fmt_ms(waited.as_millis())
        )
    } else {
        String::new()
    };
    demo.out
        .ok(format!("product {p1} \"Mechanical keyboard\" 45000{later}"));
    let (answer, p2) = match try_create(demo, "Wireless mouse", 25000).await? {
        Poll::Done(created) => created,
        Poll::NotYet(seen) => bail!("catalog refused the second product: {seen}"),
    };
    demo.out.call("POST", &shown, answer.status, answer.took);
    demo.out
        .ok(format!("product {p2} \"Wireless mouse\" 25000"));
    let query = format!("/api/products?productNoList={p2},{p1},999");
    let list: ProductList = demo.call(get(CATALOG, query), &[200]).await?.json()?;
    let names: Vec<&str> = list.products.iter().map(|p| p.name.as_str()).collect();
    demo.out.ok(format!(
        "GET in the requested order: {}; unknown reported: missingProductNos {}",
        names.join(", "),
        list.missing_product_nos
    ));
    let state = &mut demo.state;
    (state.p1, state.p1_price) = (p1, "45000".into());
    (state.p2, state.p2_price) = (p2, "25000".into());
    demo.save()
}
