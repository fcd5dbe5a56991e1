//! The payment window: the page Toss's SDK would open. It shows the order and two plain HTML
//! forms (no JavaScript): Approve creates the approval and redirects (303) to successUrl with
//! `paymentKey`, `orderId`, `amount` and `paymentType`; Decline redirects to failUrl with
//! `code=PAY_PROCESS_CANCELED`, as Toss does when the customer closes the window.

use std::sync::Arc;

use poem_openapi::{
    param::Query,
    payload::{Form, Html},
    ApiResponse, Object, OpenApi, Tags,
};
use serde::Deserialize;
use service_kit::{ApiError, FieldError};
use url::Url;

use crate::{
    amount::Amount,
    approval::{self, Approval},
    state::Sandbox,
};

#[derive(Tags)]
enum WindowTag {
    /// The payment window a browser is sent to at checkout.
    PaymentWindow,
}

#[derive(ApiResponse)]
pub enum Redirect {
    /// Back to the merchant's successUrl or failUrl.
    #[oai(status = 303)]
    SeeOther(#[oai(header = "Location")] String),
}

#[derive(Debug, Object, Deserialize)]
#[oai(rename_all = "camelCase", example)]
#[serde(rename_all = "camelCase")]
pub struct ApproveForm {
    pub order_id: String,
    /// Integer KRW.
    pub amount: String,
    pub order_name: String,
    pub success_url: String,
    pub fail_url: String,
}

#[derive(Debug, Object, Deserialize)]
#[oai(rename_all = "camelCase", example)]
#[serde(rename_all = "camelCase")]
pub struct DeclineForm {
    pub order_id: String,
    pub fail_url: String,
}

/// Only http(s) URLs with a host: the window must not become a redirector to `javascript:`
/// or other schemes.
fn redirect_url(field: &str, raw: &str) -> Result<Url, FieldError> {
    let error = |message: &str| FieldError {
        field: field.into(),
        message: message.into(),
    };
    let url = Url::parse(raw.trim()).map_err(|e| error(&format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(error("must be an http(s) URL with a host"));
    }
    Ok(url)
}

/// Appends query parameters, keeping any the URL already has (and its fragment).
fn with_params(mut url: Url, params: &[(&str, &str)]) -> String {
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

use service_kit::html::escape;

/// `15000` → `15,000`.
fn grouped(amount: Amount) -> String {
    let digits: Vec<char> = amount.0.to_string().chars().collect();
    // The leading group has 1–3 digits, the rest exactly 3.
    let head = match digits.len() % 3 {
        0 => 3.min(digits.len()),
        n => n,
    };
    let mut groups: Vec<String> = vec![digits[..head].iter().collect()];
    groups.extend(
        digits[head..]
            .chunks(3)
            .map(|c| c.iter().collect::<String>()),
    );
    groups.join(",")
}

fn page(order_id: &str, amount: Amount, order_name: &str, success: &Url, fail: &Url) -> String {
    let hidden = |name: &str, value: &str| {
        format!(
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape(value)
        )
    };
    let amount_text = amount.0.to_string();
    format!(
        r#"<!doctype html>
<html lang="ko">
<head><meta charset="utf-8"><title>결제하기 · paymsa PSP sandbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}}
dt{{color:#666}}dd{{margin:0 0 1rem;font-size:1.2rem}}
button{{font-size:1.1rem;padding:.6rem 1.4rem;margin-right:.5rem}}</style>
</head>
<body>
<h1>결제하기</h1>
<p>Toss Payments sandbox — no real card is charged.</p>
<dl>
<dt>주문 (order)</dt><dd id="order-name">{name}</dd>
<dt>주문번호 (orderId)</dt><dd id="order-id">{id}</dd>
<dt>결제 금액 (amount)</dt><dd id="amount">{won}원</dd>
</dl>
<form method="post" action="/sandbox/window/approve" style="display:inline">
{h_order}{h_amount}{h_name}{h_success}{h_fail}
<button id="approve" type="submit">Approve · 결제 승인</button>
</form>
<form method="post" action="/sandbox/window/decline" style="display:inline">
{h_order}{h_fail}
<button id="decline" type="submit">Decline · 취소</button>
</form>
</body>
</html>
"#,
        name = escape(order_name),
        id = escape(order_id),
        won = grouped(amount),
        h_order = hidden("orderId", order_id),
        h_amount = hidden("amount", &amount_text),
        h_name = hidden("orderName", order_name),
        h_success = hidden("successUrl", success.as_str()),
        h_fail = hidden("failUrl", fail.as_str()),
    )
}

pub struct WindowApi {
    pub sandbox: Arc<Sandbox>,
}

#[OpenApi(tag = "WindowTag::PaymentWindow")]
impl WindowApi {
    /// The payment window for one order (an HTML page).
    ///
    /// Shows the order with `#approve` and `#decline` buttons that post the forms below.
    #[oai(
        path = "/sandbox/window",
        method = "get",
        operation_id = "payment_window"
    )]
    async fn window(
        &self,
        #[oai(name = "orderId")] order_id: Query<String>,
        amount: Query<Amount>,
        #[oai(name = "orderName")] order_name: Query<String>,
        #[oai(name = "successUrl")] success_url: Query<String>,
        #[oai(name = "failUrl")] fail_url: Query<String>,
    ) -> Result<Html<String>, ApiError> {
        let mut errors = approval::validate(&order_id.0, &order_name.0);
        let success = redirect_url("successUrl", &success_url.0).map_err(|e| errors.push(e));
        let fail = redirect_url("failUrl", &fail_url.0).map_err(|e| errors.push(e));
        match (success, fail) {
            (Ok(success), Ok(fail)) if errors.is_empty() => Ok(Html(page(
                &order_id.0,
                amount.0,
                order_name.0.trim(),
                &success,
                &fail,
            ))),
            _ => Err(ApiError::validation(errors)),
        }
    }

    /// The Approve button: approves the order and redirects to successUrl.
    #[oai(
        path = "/sandbox/window/approve",
        method = "post",
        operation_id = "window_approve"
    )]
    async fn approve(&self, form: Form<ApproveForm>) -> Result<Redirect, ApiError> {
        let f = form.0;
        let mut errors = Vec::new();
        let success = redirect_url("successUrl", &f.success_url).map_err(|e| errors.push(e));
        let fail = redirect_url("failUrl", &f.fail_url).map_err(|e| errors.push(e));
        let amount = f.amount.parse::<Amount>().map_err(|message| {
            errors.push(FieldError {
                field: "amount".into(),
                message,
            })
        });
        let (Ok(success), Ok(fail), Ok(amount)) = (success, fail, amount) else {
            return Err(ApiError::validation(errors));
        };
        match approval::approve(&self.sandbox, &f.order_id, &f.order_name, amount).await {
            Err(error) => Err(error),
            Ok(Approval::Created(key) | Approval::Existing(key)) => {
                let amount = amount.to_string();
                Ok(Redirect::SeeOther(with_params(
                    success,
                    &[
                        ("paymentType", "NORMAL"),
                        ("orderId", &f.order_id),
                        ("paymentKey", &key),
                        ("amount", &amount),
                    ],
                )))
            }
            // The order was approved before for another amount: Toss would abort the attempt.
            Ok(Approval::Conflict { .. }) => Ok(Redirect::SeeOther(with_params(
                fail,
                &[
                    ("code", "PAY_PROCESS_ABORTED"),
                    (
                        "message",
                        "결제 진행 중 승인에 실패하여 결제가 중단되었습니다.",
                    ),
                    ("orderId", &f.order_id),
                ],
            ))),
        }
    }

    /// The Decline button: the customer cancels; nothing is created.
    #[oai(
        path = "/sandbox/window/decline",
        method = "post",
        operation_id = "window_decline"
    )]
    async fn decline(&self, form: Form<DeclineForm>) -> Result<Redirect, ApiError> {
        let f = form.0;
        let fail =
            redirect_url("failUrl", &f.fail_url).map_err(|e| ApiError::validation(vec![e]))?;
        Ok(Redirect::SeeOther(with_params(
            fail,
            &[
                ("code", "PAY_PROCESS_CANCELED"),
                ("message", "사용자에 의해 결제가 취소되었습니다."),
                ("orderId", &f.order_id),
            ],
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_appended_to_existing_queries_and_encoded() {
        let url = redirect_url("u", "http://shop.test/success?x=1#top").expect("valid");
        assert_eq!(
            with_params(url, &[("orderId", "a b"), ("amount", "1000")]),
            "http://shop.test/success?x=1&orderId=a+b&amount=1000#top"
        );
    }

    #[test]
    fn only_http_urls_with_a_host_are_accepted() {
        for bad in [
            "javascript:alert(1)",
            "ftp://x/y",
            "/relative",
            "http://",
            "data:,x",
        ] {
            assert!(redirect_url("u", bad).is_err(), "{bad}");
        }
        assert!(redirect_url("u", "https://shop.test/fail").is_ok());
    }

    #[test]
    fn amounts_are_grouped_and_html_is_escaped() {
        assert_eq!(grouped(Amount(1_234_567)), "1,234,567");
        assert_eq!(grouped(Amount(100)), "100");
        assert_eq!(grouped(Amount(15000)), "15,000");
        assert_eq!(grouped(Amount(7)), "7");
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
