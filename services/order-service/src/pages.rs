//! The browser flow of the reference: a checkout page, the PSP's payment window, and the
//! success page that confirms and shows the real outcome. Hidden from the API docs.

use poem_openapi::{param::Query, payload::Html, OpenApi};
use rust_decimal::Decimal;

use crate::api::{ConfirmRequest, OrderApi};

pub struct PageSettings {
    /// Where browsers reach this service (for the PSP's redirects); by default the `Host`
    /// the browser used.
    pub public_url: Option<String>,
    /// The sandbox's payment window, used unless a Toss client key is configured.
    pub psp_window_url: String,
    pub toss_client_key: Option<String>,
}

pub struct Pages {
    pub api: OrderApi,
    pub settings: PageSettings,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"ko\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;max-width:40em;margin:2em auto}}</style></head>\
         <body><h1>{}</h1>{body}</body></html>",
        escape(title),
        escape(title)
    ))
}

/// KRW has no minor unit: `6000.00` (the scale of a numeric column) shows as `6000`.
fn won(amount: Decimal) -> String {
    amount.normalize().to_string()
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn parse_ids(raw: &str) -> Option<Vec<i64>> {
    raw.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse::<i64>().ok().filter(|v| *v > 0))
        .collect()
}

#[OpenApi]
impl Pages {
    /// Checkout page: creates the order and offers the payment window.
    #[oai(path = "/", method = "get", hidden)]
    async fn checkout_page(
        &self,
        req: &poem::Request,
        #[oai(name = "productNoList")] product_no_list: Query<Option<String>>,
        #[oai(name = "memberNo")] member_no: Query<Option<String>>,
    ) -> Html<String> {
        let products = parse_ids(product_no_list.0.as_deref().unwrap_or("1,2,3"));
        let member = member_no
            .0
            .as_deref()
            .unwrap_or("1")
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|m| *m > 0);
        let (Some(products), Some(member)) = (products, member) else {
            return page(
                "잘못된 요청",
                "<p id=\"error\">productNoList and memberNo must be positive numbers.</p>",
            );
        };
        let order = match self.api.create_checkout(member, &products).await {
            Ok(order) => order,
            Err(e) => {
                return page(
                    "주문 실패",
                    &format!("<p id=\"error\">{}</p>", escape(&e.to_string())),
                )
            }
        };
        let base = self.settings.public_url.clone().unwrap_or_else(|| {
            let host = req
                .headers()
                .get(poem::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1:8080");
            format!("http://{host}")
        });
        let success = format!("{base}/success");
        let fail = format!("{base}/fail");
        let pay = match &self.settings.toss_client_key {
            Some(client_key) => {
                // Values go into JavaScript inside an HTML attribute: JSON-encode them first (so a
                // quote in a product name cannot end the string), then HTML-escape the result.
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
                self.settings.psp_window_url,
                encode(&order.order_id),
                won(order.amount),
                encode(&order.order_name),
                encode(&success),
                encode(&fail)
            ),
        };
        page(
            "주문서",
            &format!(
                "<p>주문 <code id=\"order-id\">{}</code></p><p>{}</p><p>결제 금액 <b id=\"amount\">{}</b>원</p>{pay}",
                escape(&order.order_id),
                escape(&order.order_name),
                won(order.amount)
            ),
        )
    }

    /// The PSP's success redirect: confirms and shows the real outcome.
    #[oai(path = "/success", method = "get", hidden)]
    async fn success_page(
        &self,
        #[oai(name = "paymentKey")] payment_key: Query<String>,
        #[oai(name = "orderId")] order_id: Query<String>,
        amount: Query<Decimal>,
    ) -> Html<String> {
        let req = ConfirmRequest {
            payment_key: payment_key.0,
            order_id: order_id.0,
            amount: amount.0,
        };
        match self.api.confirm_payment(&req, "success-page").await {
            Ok((result, _)) => page(
                "결제 결과",
                &format!(
                    "<p>주문 <code id=\"order-id\">{}</code> {}</p><p>금액 <span id=\"amount\">{}</span>원</p><p>상태 <b id=\"outcome\">{}</b></p>",
                    escape(&result.order_id),
                    escape(&result.order_name),
                    won(result.amount),
                    escape(&result.status)
                ),
            ),
            Err(e) => {
                let p = e.problem();
                page(
                    "결제 실패",
                    &format!("<p>상태 <b id=\"outcome\">FAILED</b></p><p id=\"code\">{}</p><p>{}</p>", escape(&p.code), escape(&p.detail)),
                )
            }
        }
    }

    /// The PSP's fail redirect.
    #[oai(path = "/fail", method = "get", hidden)]
    async fn fail_page(
        &self,
        code: Query<Option<String>>,
        message: Query<Option<String>>,
    ) -> Html<String> {
        page(
            "결제 실패",
            &format!(
                "<p>상태 <b id=\"outcome\">FAILED</b></p><p id=\"code\">{}</p><p>{}</p>",
                escape(code.0.as_deref().unwrap_or("UNKNOWN")),
                escape(message.0.as_deref().unwrap_or(""))
            ),
        )
    }
}
