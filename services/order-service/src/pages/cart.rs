//! The cart (the `paymsa_cart` cookie: up to 50 product numbers, a product listed twice is
//! bought twice, as in `POST /api/checkouts`) and checkout. Only `POST /checkout` creates an
//! order — as the visitor, checked like the API's checkout — and answers the order page with
//! the payment window's link; a GET of any page creates nothing.

use std::sync::Arc;

use poem::Request;
use poem_openapi::{
    payload::{Form, Html, Response},
    Object, OpenApi,
};
use serde::Deserialize;
use service_kit::auth;

use super::{
    encode, error_page, escape, page,
    session::{self, cookie, set_cookie, Visitor},
    won, PageContext, Reply,
};

const CART_COOKIE: &str = "paymsa_cart";
const CART_MAX: usize = 50;

/// The cart's product numbers; anything unparsable in the cookie is dropped.
fn cart_of(req: &Request) -> Vec<i64> {
    cookie(req, CART_COOKIE)
        .unwrap_or_default()
        .split('.')
        .filter_map(|s| s.parse::<i64>().ok().filter(|n| *n > 0))
        .take(CART_MAX)
        .collect()
}

fn cart_cookie(cart: &[i64], secure: bool) -> String {
    let value: Vec<String> = cart.iter().map(i64::to_string).collect();
    set_cookie(CART_COOKIE, &value.join("."), secure)
}

#[derive(Debug, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct AddForm {
    product_no: String,
}

pub struct CartPages {
    pub ctx: Arc<PageContext>,
}

#[OpenApi]
impl CartPages {
    /// The cart with current prices and the checkout button.
    #[oai(path = "/cart", method = "get", hidden)]
    async fn cart_page(&self, req: &Request) -> Html<String> {
        let cart = cart_of(req);
        if cart.is_empty() {
            return page(
                "장바구니",
                "<p id=\"cart-empty\">장바구니가 비어 있습니다.</p>",
            );
        }
        let products = match self.ctx.api.checkouts.catalog.products(&cart).await {
            Ok(products) => products,
            Err(e) => return error_page("장바구니", &e.to_string()),
        };
        let total: rust_decimal::Decimal = products.iter().map(|p| p.price).sum();
        let rows: String = products
            .iter()
            .map(|p| {
                format!(
                    "<tr class=\"cart-line\"><td><a href=\"/products/{}\">{}</a></td><td>{}원</td></tr>",
                    p.product_no,
                    escape(&p.name),
                    won(p.price)
                )
            })
            .collect();
        page(
            "장바구니",
            &format!(
                "<table id=\"cart\">{rows}</table><p>합계 <b id=\"cart-total\">{}</b>원</p>\
                 <form method=\"post\" action=\"/checkout\"><button id=\"checkout\" type=\"submit\">주문하기</button></form>\
                 <form method=\"post\" action=\"/cart/clear\"><button id=\"clear-cart\" type=\"submit\">비우기</button></form>",
                won(total)
            ),
        )
    }

    #[oai(path = "/cart/add", method = "post", hidden)]
    async fn add(&self, req: &Request, form: Form<AddForm>) -> Response<Reply> {
        if let Some(refused) = self.refuse_cross_site(req) {
            return refused;
        }
        let mut cart = cart_of(req);
        let Some(no) = form
            .0
            .product_no
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
        else {
            return Response::new(Reply::Page(error_page("장바구니", "no such product")));
        };
        if cart.len() >= CART_MAX {
            return Response::new(Reply::Page(error_page("장바구니", "at most 50 products")));
        }
        cart.push(no);
        Response::new(Reply::SeeOther("/cart".into()))
            .header("Set-Cookie", cart_cookie(&cart, self.ctx.secure()))
    }

    #[oai(path = "/cart/clear", method = "post", hidden)]
    async fn clear(&self, req: &Request) -> Response<Reply> {
        if let Some(refused) = self.refuse_cross_site(req) {
            return refused;
        }
        Response::new(Reply::SeeOther("/cart".into()))
            .header("Set-Cookie", cart_cookie(&[], self.ctx.secure()))
    }

    /// Creates the order from the cart as the visitor and offers the payment window; the cart
    /// is emptied once the order exists.
    #[oai(path = "/checkout", method = "post", hidden)]
    async fn checkout(&self, req: &Request) -> Response<Reply> {
        if let Some(refused) = self.refuse_cross_site(req) {
            return refused;
        }
        let failed = |why: &str| Response::new(Reply::Page(error_page("주문 실패", why)));
        let cart = cart_of(req);
        if cart.is_empty() {
            return failed("장바구니가 비어 있습니다.");
        }
        let visitor = Visitor::of(req);
        let member = match visitor.member_no() {
            Ok(m) => m,
            Err(why) => return failed(&why),
        };
        // The API's checkout rules: the token's member (jwt mode) and the write budget.
        if let Err(e) = auth::require_member(&visitor.identity, member)
            .and_then(|_| auth::limit_writes(&visitor.identity, Some(member)))
        {
            return failed(&e.problem().detail);
        }
        let order = match self.ctx.api.create_checkout(member, &cart).await {
            Ok(order) => order,
            Err(e) => return failed(&service_kit::ApiError::from(e).problem().detail),
        };
        let pay = self.pay_button(req, &order);
        Response::new(Reply::Page(page(
            "주문서",
            &format!(
                "<p>주문 <code id=\"order-id\">{}</code></p><p>{}</p><p>결제 금액 <b id=\"amount\">{}</b>원</p>{pay}",
                escape(&order.order_id),
                escape(&order.order_name),
                won(order.amount)
            ),
        )))
        .header("Set-Cookie", cart_cookie(&[], self.ctx.secure()))
    }
}

impl CartPages {
    /// The link to the sandbox's payment window, or Toss' widget with a client key.
    fn pay_button(&self, req: &Request, order: &crate::checkout::CheckoutResult) -> String {
        let settings = &self.ctx.settings;
        let base = settings.public_url.clone().unwrap_or_else(|| {
            let host = req
                .headers()
                .get(poem::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1:8080");
            format!("http://{host}")
        });
        let success = format!("{base}/success");
        let fail = format!("{base}/fail");
        match &settings.toss_client_key {
            Some(client_key) => {
                // Values go into JavaScript inside an HTML attribute: JSON-encode them first (so
                // a quote in a product name cannot end the string), then HTML-escape the result.
                let args = serde_json::json!({
                    "amount": serde_json::from_str::<serde_json::Value>(&won(order.amount))
                        .unwrap_or_default(),
                    "orderId": order.order_id,
                    "orderName": order.order_name,
                    "successUrl": success,
                    "failUrl": fail,
                });
                let key = serde_json::Value::String(client_key.clone());
                format!(
                    "<script src=\"https://js.tosspayments.com/v1/payment\"></script>\
                     <button id=\"pay\" onclick=\"TossPayments({}).requestPayment('카드',{})\">결제하기</button>",
                    escape(&key.to_string()),
                    escape(&args.to_string())
                )
            }
            None => format!(
                "<a id=\"pay\" href=\"{}/sandbox/window?orderId={}&amp;amount={}&amp;orderName={}&amp;successUrl={}&amp;failUrl={}\">결제하기</a>",
                settings.psp_window_url,
                encode(&order.order_id),
                won(order.amount),
                encode(&order.order_name),
                encode(&success),
                encode(&fail)
            ),
        }
    }
}

impl CartPages {
    /// Another site's form must not fill, empty or order the visitor's cart: the cart cookie
    /// it would set replaces the visitor's, and their next checkout would buy what that site
    /// chose (found in review). The same check as `/login` (session.rs `cross_site`).
    fn refuse_cross_site(&self, req: &Request) -> Option<Response<Reply>> {
        session::refuse_cross_site(
            req,
            self.ctx.settings.public_url.as_deref(),
            "장바구니",
            "another site's form cannot change or order your cart here",
        )
    }
}
