//! The payment's pages: the PSP's success redirect (confirms and shows the real outcome), its
//! fail redirect, and the cancel form (of the success page and of "my orders").

use std::sync::Arc;

use poem::Request;
use poem_openapi::{
    param::Query,
    payload::{Form, Html, Response},
    Object, OpenApi,
};
use rust_decimal::Decimal;
use serde::Deserialize;

use service_kit::auth;

use super::{
    escape, page,
    session::{refuse_cross_site, Visitor},
    won, PageContext, Reply,
};
use crate::{api::ConfirmRequest, cancels::CancelRequest};

fn failure_page(p: &service_kit::Problem) -> Html<String> {
    page(
        "결제 실패",
        &format!(
            "<p>상태 <b id=\"outcome\">FAILED</b></p><p id=\"code\">{}</p><p>{}</p>",
            escape(&p.code),
            escape(&p.detail)
        ),
    )
}

/// The cancel form of the success page and of "my orders".
#[derive(Debug, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct CancelForm {
    pub order_id: String,
    /// Whole won; empty cancels everything still refundable.
    #[serde(default)]
    pub cancel_amount: Option<String>,
    /// Drawn when the form is rendered ([`cancel_key`]): a browser that sends the form again (a
    /// reload of the result, a retry after a slow answer) is answered the same cancel instead
    /// of refunding a second time. A form rendered before stop 30 has none.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

pub struct PaymentPages {
    pub ctx: Arc<PageContext>,
}

#[OpenApi]
impl PaymentPages {
    /// The PSP's success redirect: confirms and shows the real outcome.
    #[oai(path = "/success", method = "get", hidden)]
    async fn success_page(
        &self,
        request: &Request,
        #[oai(name = "paymentKey")] payment_key: Query<String>,
        #[oai(name = "orderId")] order_id: Query<String>,
        amount: Query<Decimal>,
    ) -> Html<String> {
        // A write like `POST /api/payments/confirm` (each can cost a PSP call under our merchant
        // key), counted for the visitor's member or, without a session, its address.
        // Nothing failed then: the approval is still waiting at the PSP, and the page says so.
        if let Err(e) = auth::limit_writes(&Visitor::of(request).identity, None) {
            let p = e.problem();
            return page(
                "잠시 후 다시 시도해 주세요",
                &format!(
                    "<p>상태 <b id=\"outcome\">NOT_CONFIRMED_YET</b></p><p id=\"code\">{}</p><p>{}</p><p><a href=\"{}\">다시 시도</a></p>",
                    escape(&p.code),
                    escape(&p.detail),
                    escape(&request.uri().to_string())
                ),
            );
        }
        let req = ConfirmRequest {
            payment_key: payment_key.0,
            order_id: order_id.0,
            amount: amount.0,
        };
        match self.ctx.api.confirm_payment(&req, "success-page").await {
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
            Err(e) => failure_page(e.problem()),
        }
    }

    /// The cancel form of the success page: refunds in part or in full, shows the outcome.
    #[oai(path = "/cancel", method = "post", hidden)]
    async fn cancel_page(&self, req: &Request, form: Form<CancelForm>) -> Response<Reply> {
        let public_url = self.ctx.settings.public_url.as_deref();
        let why = "another site's form cannot cancel your order here";
        if let Some(refused) = refuse_cross_site(req, public_url, "취소 실패", why) {
            return refused;
        }
        Response::new(Reply::Page(self.cancel_outcome(req, form).await))
    }

    /// What a cancel form asked for, done, as a page.
    async fn cancel_outcome(&self, req: &Request, form: Form<CancelForm>) -> Html<String> {
        // As `POST /api/payments/{orderId}/cancel`: in jwt mode only the order's member.
        let visitor = Visitor::of(req);
        let payments = &self.ctx.api.payments;
        // A refund at the PSP, counted like the API's cancel.
        let allowed = match auth::limit_writes(&visitor.identity, None) {
            Ok(()) => {
                crate::access::require_order_member(
                    &visitor.identity,
                    payments,
                    &form.0.order_id,
                    false,
                )
                .await
            }
            Err(e) => Err(e),
        };
        let key = form.0.idempotency_key.as_deref();
        let allowed = allowed.and_then(|()| crate::cancels::api::check_key(key));
        if let Err(e) = allowed {
            let p = e.problem();
            return page(
                "취소 실패",
                &format!(
                    "<p id=\"code\">{}</p><p>{}</p>",
                    escape(&p.code),
                    escape(&p.detail)
                ),
            );
        }
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
            .ctx
            .api
            .payments
            .request_cancel(&order_id, &req, key, "success-page")
            .await;
        match answer {
            Ok(cancel) => {
                let details = self.ctx.api.payments.refund_state(&order_id).await;
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

/// The cancel form of the success page and of its result: an amount (empty: everything still
/// refundable).
pub fn cancel_form(order_id: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/cancel\"><input type=\"hidden\" name=\"orderId\" value=\"{}\">{}\
         <label>취소 금액 <input id=\"cancel-amount-input\" name=\"cancelAmount\" placeholder=\"전체\"></label> \
         <button id=\"cancel\" type=\"submit\">취소/환불</button></form>",
        escape(order_id),
        cancel_key()
    )
}

/// The hidden idempotency key of a cancel form (this page's and "my orders"' in account.rs),
/// new at every render, so sending one form twice refunds once.
pub fn cancel_key() -> String {
    format!(
        "<input type=\"hidden\" class=\"cancel-key\" name=\"idempotencyKey\" value=\"page-{}\">",
        uuid::Uuid::new_v4()
    )
}
