//! The shop: the main page (hot products first, then the whole catalog page by page) and the
//! product pages with likes and reviews. Liking and reviewing go to catalog-like-service and
//! catalog-review-service as the visitor (docs/identity.md: in jwt mode a review needs a
//! purchase). Reading never changes anything.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{
    param::{Path, Query},
    payload::{Form, Html, Response},
    Object, OpenApi,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    backends::{money, text},
    error_page, escape, page,
    session::{refuse_cross_site, Visitor},
    PageContext, Reply,
};

pub struct StorePages {
    pub ctx: Arc<PageContext>,
}

#[derive(Debug, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ReviewForm {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    star_rating_type: Option<String>,
}

/// One product row of a list, linking to its page.
fn product_row(p: &Value, extra: &str) -> String {
    let no = text(&p["productNo"]);
    format!(
        "<tr class=\"product\" data-product-no=\"{no}\"><td><a href=\"/products/{no}\">{}</a></td>\
         <td>{}원</td>{extra}</tr>",
        escape(&text(&p["name"])),
        money(&p["price"])
    )
}

fn add_to_cart_form(product_no: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/cart/add\"><input type=\"hidden\" name=\"productNo\" \
         value=\"{}\"><button id=\"add-to-cart\" type=\"submit\">장바구니에 담기</button></form>",
        escape(product_no)
    )
}

#[OpenApi]
impl StorePages {
    /// The main page: hot products, then the catalog. Creates nothing.
    #[oai(path = "/", method = "get", hidden)]
    async fn main_page(&self, after: Query<Option<i64>>) -> Html<String> {
        let backends = &self.ctx.backends;
        let after = after.0.filter(|a| *a > 0).unwrap_or(0);
        let (hot, catalog) = tokio::join!(backends.hot_products(10), backends.catalog_page(after));
        let hot = match hot {
            Ok(hot) => {
                let rows: String = hot["products"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| {
                        let extra = format!(
                            "<td>♥ {}</td><td>리뷰 {}</td>",
                            text(&p["likeCount"]),
                            text(&p["reviewCount"])
                        );
                        product_row(p, &extra)
                    })
                    .collect();
                if rows.is_empty() {
                    "<p>아직 인기 상품이 없습니다.</p>".to_string()
                } else {
                    format!("<table id=\"hot-products\">{rows}</table>")
                }
            }
            Err(e) => format!(
                "<p class=\"err\">인기 상품을 불러올 수 없습니다: {}</p>",
                escape(&e.detail)
            ),
        };
        let catalog = match catalog {
            Ok(list) => {
                let rows: String = list["products"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|p| product_row(p, ""))
                    .collect();
                let next = match text(&list["nextAfterProductNo"]) {
                    n if n.is_empty() => String::new(),
                    n => format!("<p><a id=\"next-page\" href=\"/?after={n}\">다음 상품</a></p>"),
                };
                format!("<table id=\"catalog\">{rows}</table>{next}")
            }
            Err(e) => format!(
                "<p class=\"err\">상품 목록을 불러올 수 없습니다: {}</p>",
                escape(&e.detail)
            ),
        };
        page(
            "paymsa 상점",
            &format!("<h2>인기 상품</h2>{hot}<h2>전체 상품</h2>{catalog}"),
        )
    }

    /// A product with its likes and reviews.
    #[oai(path = "/products/:productNo", method = "get", hidden)]
    async fn product_page(
        &self,
        #[oai(name = "productNo")] product_no: Path<String>,
    ) -> Html<String> {
        let Some(no) = product_no.0.parse::<i64>().ok().filter(|n| *n > 0) else {
            return error_page("상품 없음", "no such product");
        };
        let backends = &self.ctx.backends;
        let (product, likes, reviews) = tokio::join!(
            backends.product(no),
            backends.like_count(no),
            backends.reviews(no)
        );
        let product = match product {
            Ok(p) => p,
            Err(e) => return error_page("상품 없음", &e.detail),
        };
        let likes = likes
            .map(|l| text(&l["likeCount"]))
            .unwrap_or_else(|_| "?".into());
        let reviews = match reviews {
            Ok(r) => {
                let items: String = r["reviews"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| {
                        format!(
                            "<li class=\"review\"><b>{}</b> ({}) — {} <small>회원 {}</small></li>",
                            escape(&text(&v["title"])),
                            escape(&text(&v["starRatingType"])),
                            escape(&text(&v["content"])),
                            escape(&text(&v["memberNo"]))
                        )
                    })
                    .collect();
                format!(
                    "<p>리뷰 <span id=\"review-count\">{}</span>개, 평균 {}</p><ul id=\"reviews\">{items}</ul>",
                    text(&r["reviewCount"]),
                    text(&r["averageRating"])
                )
            }
            Err(e) => format!("<p class=\"err\">{}</p>", escape(&e.detail)),
        };
        let no = no.to_string();
        let stars: String = ["FIVE", "FOUR", "THREE", "TWO", "ONE"]
            .iter()
            .map(|s| format!("<option>{s}</option>"))
            .collect();
        page(
            &text(&product["name"]),
            &format!(
                "<p id=\"description\">{}</p><p>가격 <b id=\"price\">{}</b>원 · 판매자 {}</p>\
                 {cart}<p>좋아요 <b id=\"like-count\">{likes}</b> \
                 <form method=\"post\" action=\"/products/{no}/like\" style=\"display:inline\">\
                 <button id=\"like\" type=\"submit\">♥ 좋아요</button></form></p>\
                 <h2>리뷰</h2>{reviews}<form method=\"post\" action=\"/products/{no}/reviews\">\
                 <input id=\"review-title\" name=\"title\" placeholder=\"제목\"> \
                 <select id=\"review-stars\" name=\"starRatingType\">{stars}</select><br>\
                 <textarea id=\"review-content\" name=\"content\" rows=\"2\" cols=\"50\"></textarea><br>\
                 <button id=\"review\" type=\"submit\">리뷰 쓰기</button></form>",
                escape(&text(&product["description"])),
                money(&product["price"]),
                escape(&text(&product["sellerNo"])),
                cart = add_to_cart_form(&no),
            ),
        )
    }

    /// Likes the product as the visitor, then back to its page.
    #[oai(path = "/products/:productNo/like", method = "post", hidden)]
    async fn like(
        &self,
        req: &Request,
        #[oai(name = "productNo")] product_no: Path<i64>,
    ) -> Response<Reply> {
        let public_url = self.ctx.settings.public_url.as_deref();
        let why = "another site's form cannot like products as you";
        if let Some(refused) = refuse_cross_site(req, public_url, "좋아요 실패", why) {
            return refused;
        }
        Response::new(self.like_as_visitor(req, product_no.0).await)
    }

    async fn like_as_visitor(&self, req: &Request, product_no: i64) -> Reply {
        let visitor = Visitor::of(req);
        let member = match visitor.member_no() {
            Ok(m) => m,
            Err(why) => return Reply::Page(error_page("좋아요 실패", &why)),
        };
        match self
            .ctx
            .backends
            .like(product_no, member, visitor.bearer())
            .await
        {
            Ok(_) => Reply::SeeOther(format!("/products/{}", product_no)),
            Err(e) => Reply::Page(error_page("좋아요 실패", &e.detail)),
        }
    }

    /// Reviews the product as the visitor, then back to its page.
    #[oai(path = "/products/:productNo/reviews", method = "post", hidden)]
    async fn review(
        &self,
        req: &Request,
        #[oai(name = "productNo")] product_no: Path<i64>,
        form: Form<ReviewForm>,
    ) -> Response<Reply> {
        let public_url = self.ctx.settings.public_url.as_deref();
        let why = "another site's form cannot review products as you";
        if let Some(refused) = refuse_cross_site(req, public_url, "리뷰 실패", why) {
            return refused;
        }
        Response::new(self.review_as_visitor(req, product_no.0, form.0).await)
    }

    async fn review_as_visitor(&self, req: &Request, product_no: i64, form: ReviewForm) -> Reply {
        let visitor = Visitor::of(req);
        let member = match visitor.member_no() {
            Ok(m) => m,
            Err(why) => return Reply::Page(error_page("리뷰 실패", &why)),
        };
        let body = json!({
            "productNo": product_no.to_string(),
            "memberNo": member.to_string(),
            "title": form.title.unwrap_or_default(),
            "content": form.content.unwrap_or_default(),
            "starRatingType": form.star_rating_type.unwrap_or_default(),
        });
        match self.ctx.backends.review(body, visitor.bearer()).await {
            Ok(_) => Reply::SeeOther(format!("/products/{}", product_no)),
            Err(e) => Reply::Page(error_page("리뷰 실패", &e.detail)),
        }
    }
}
