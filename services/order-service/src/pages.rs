//! The browser flow of the reference: a checkout page, the PSP's payment window, and the
//! success page that confirms and shows the real outcome. Hidden from the API docs.

use poem_openapi::{
    param::Query,
    payload::{Form, Html},
    Object, OpenApi,
};
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::{
    api::{ConfirmRequest, OrderApi},
    cancels::CancelRequest,
};

/// The success page's cancel form.
#[derive(Debug, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct CancelForm {
    pub order_id: String,
    /// Whole won; empty cancels everything still refundable.
    #[serde(default)]
    pub cancel_amount: Option<String>,
}

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
            Ok((result, paid)) => page(
                "결제 결과",
                &format!(
                    "<p>주문 <code id=\"order-id\">{}</code> {}</p><p>금액 <span id=\"amount\">{}</span>원</p><p>상태 <b id=\"outcome\">{}</b></p>{}",
                    escape(&result.order_id),
                    escape(&result.order_name),
                    won(result.amount),
                    result.status.as_str(),
                    if paid { cancel_form(&result.order_id) } else { String::new() }
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

    /// The cancel form of the success page: refunds in part or in full, shows the outcome.
    #[oai(path = "/cancel", method = "post", hidden)]
    async fn cancel_page(&self, form: Form<CancelForm>) -> Html<String> {
        let amount = match form.0.cancel_amount.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => match raw.parse::<Decimal>() {
                Ok(a) if a > Decimal::ZERO && a.fract().is_zero() => Some(a),
                _ => return page(
                    "취소 실패",
                    "<p id=\"code\">INVALID_CANCEL_AMOUNT</p><p>a positive whole number of won</p>",
                ),
            },
        };
        let req = CancelRequest {
            reason: "고객 요청 (결제 결과 페이지)".into(),
            amount,
            lines: None,
        };
        let order_id = form.0.order_id;
        let answer = self
            .api
            .payments
            .request_cancel(&order_id, &req, None, "success-page")
            .await;
        match answer {
            Ok(cancel) => {
                let details = self.api.payments.refund_state(&order_id).await;
                let (refunded, refundable, status) = details.unwrap_or_default();
                page(
                    "취소 결과",
                    &format!(
                        "<p>주문 <code id=\"order-id\">{}</code></p><p>취소 <b id=\"cancel-status\">{}</b> \
                         <span id=\"cancel-amount\">{}</span>원</p><p>환불 합계 <span id=\"refunded\">{}</span>원, \
                         남은 금액 <span id=\"refundable\">{}</span>원</p><p>주문 상태 <b id=\"order-status\">{}</b></p>{}",
                        escape(&order_id),
                        cancel.status.as_str(),
                        won(cancel.cancel_amount),
                        won(refunded),
                        won(refundable),
                        escape(&status),
                        if refundable > Decimal::ZERO { cancel_form(&order_id) } else { String::new() }
                    ),
                )
            }
            Err(e) => {
                let e = service_kit::ApiError::from(e);
                let p = e.problem();
                page(
                    "취소 실패",
                    &format!(
                        "<p id=\"code\">{}</p><p>{}</p>",
                        escape(&p.code),
                        escape(&p.detail)
                    ),
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

/// A cancel form for a paid order: an amount (empty: everything still refundable).
fn cancel_form(order_id: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/cancel\"><input type=\"hidden\" name=\"orderId\" value=\"{}\">\
         <label>취소 금액 <input id=\"cancel-amount-input\" name=\"cancelAmount\" placeholder=\"전체\"></label> \
         <button id=\"cancel\" type=\"submit\">취소/환불</button></form>",
        escape(order_id)
    )
}
