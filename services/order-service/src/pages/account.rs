//! The visitor's pages: "my orders" from order-query-service (with a cancel button for what is
//! still refundable) and the seller page with the wallet from wallet-service, both read as the
//! visitor (docs/identity.md: their own orders / wallet only in jwt mode).

use std::sync::Arc;

use poem::Request;
use poem_openapi::{payload::Html, OpenApi};
use rust_decimal::Decimal;
use serde_json::Value;

use super::{
    backends::{money, text},
    error_page, escape, page,
    session::Visitor,
    PageContext,
};

pub struct AccountPages {
    pub ctx: Arc<PageContext>,
}

/// Paid and not refunded in full: what the cancel form may still take back.
fn refundable(order: &Value) -> bool {
    let amount = |v: &Value| text(v).parse::<Decimal>().unwrap_or_default();
    matches!(order["status"].as_str(), Some("PAID" | "PARTIAL_CANCELED"))
        && amount(&order["totalAmount"]) > amount(&order["refundedAmount"])
}

fn order_row(order: &Value) -> String {
    let id = escape(&text(&order["orderId"]));
    let cancel = if refundable(order) {
        format!(
            "<form method=\"post\" action=\"/cancel\"><input type=\"hidden\" name=\"orderId\" value=\"{id}\">{}\
             <button class=\"cancel-order\" id=\"cancel-{id}\" type=\"submit\">전체 취소</button></form>",
            super::payment::cancel_key()
        )
    } else {
        String::new()
    };
    format!(
        "<tr class=\"order\" id=\"order-{id}\"><td><code>{id}</code></td><td>{}</td><td>{}원</td>\
         <td class=\"status\">{}</td><td>환불 {}원</td><td>{cancel}</td></tr>",
        escape(&text(&order["orderName"])),
        money(&order["totalAmount"]),
        escape(&text(&order["status"])),
        money(&order["refundedAmount"]),
    )
}

#[OpenApi]
impl AccountPages {
    /// The visitor's orders, newest first (order-query's read model: a payment shows once its
    /// event is projected, usually within milliseconds).
    #[oai(path = "/orders", method = "get", hidden)]
    async fn my_orders(&self, req: &Request) -> Html<String> {
        let visitor = Visitor::of(req);
        let member = match visitor.member_no() {
            Ok(m) => m,
            Err(why) => return error_page("내 주문", &why),
        };
        let orders = match self
            .ctx
            .backends
            .member_orders(member, visitor.bearer())
            .await
        {
            Ok(page) => page,
            Err(e) => return error_page("내 주문", &e.detail),
        };
        let rows: String = orders["orders"]
            .as_array()
            .into_iter()
            .flatten()
            .map(order_row)
            .collect();
        let body = if rows.is_empty() {
            "<p id=\"no-orders\">주문이 없습니다.</p>".to_string()
        } else {
            format!("<table id=\"orders\">{rows}</table>")
        };
        page(&format!("내 주문 (회원 {member})"), &body)
    }

    /// The visitor's seller wallet: balance and recent transactions.
    #[oai(path = "/seller", method = "get", hidden)]
    async fn seller_page(&self, req: &Request) -> Html<String> {
        let visitor = Visitor::of(req);
        let seller = match visitor.seller_no() {
            Ok(s) => s,
            Err(why) => return error_page("판매자", &why),
        };
        let wallet = match self
            .ctx
            .backends
            .seller_wallet(seller, visitor.bearer())
            .await
        {
            Ok(w) => w,
            Err(e) => return error_page("판매자", &e.detail),
        };
        let rows: String = wallet["recentTransactions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| {
                format!(
                    "<tr class=\"transaction\"><td>{}</td><td>{}원</td><td><code>{}</code></td></tr>",
                    escape(&text(&t["type"])),
                    money(&t["amount"]),
                    escape(&text(&t["orderId"]))
                )
            })
            .collect();
        page(
            &format!("판매자 {seller}"),
            &format!(
                "<p>잔액 <b id=\"balance\">{}</b>원 (정산 대기 {}원, 출금 가능 <span id=\"available\">{}</span>원, 지급 완료 {}원)</p>\
                 <h2>최근 거래</h2><table id=\"transactions\">{rows}</table>",
                money(&wallet["balance"]),
                money(&wallet["pending"]),
                money(&wallet["available"]),
                money(&wallet["paidOut"]),
            ),
        )
    }
}
