//! The tables the demo ([`crate::demo`]) prints from an answer it has, columns as the demo
//! showed them since it formatted them in Python.

use serde_json::Value;

use crate::{pretty, streams::table};

pub enum Kind {
    /// GET /api/hot-products: the first `top` ranks, plus the `mark`ed products below them
    Hot {
        /// The ranks shown from the top
        top: i64,
        /// The products to point out (the demo's own)
        mark: Vec<String>,
    },
    /// GET /api/orders/members/{memberNo}: one page of a member's orders
    Orders,
    /// GET /api/wallets/sellers/{sellerNo}: the newest 8 ledger rows
    Ledger,
}

pub fn render(kind: &Kind, d: &Value) -> String {
    match kind {
        Kind::Hot { top, mark } => hot(d, *top, mark),
        Kind::Orders => orders(d),
        Kind::Ledger => ledger(d),
    }
}

/// Python's `str()` of a JSON value: `None`, `True`, numbers and strings as they are.
fn py(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "None".into(),
        Some(Value::Bool(true)) => "True".into(),
        Some(Value::Bool(false)) => "False".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => pretty::one_line_utf8(other),
    }
}

/// The value, or `default` when it is missing or false-y in Python's sense (null, "", 0, false).
fn or(v: Option<&Value>, default: &str) -> String {
    match v {
        None | Some(Value::Null | Value::Bool(false)) => default.into(),
        Some(Value::String(s)) if s.is_empty() => default.into(),
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => default.into(),
        other => py(other),
    }
}

/// The first `n` characters of a string field (`createdAt[:23]`).
fn cut(v: Option<&Value>, n: usize) -> String {
    py(v).chars().take(n).collect()
}

fn items<'v>(d: &'v Value, key: &str) -> &'v [Value] {
    d.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn hot(d: &Value, top: i64, marks: &[String]) -> String {
    let rows: Vec<Vec<String>> = items(d, "products")
        .iter()
        .filter_map(|p| {
            let rank = p["rank"].as_f64().unwrap_or(0.0) as i64;
            let mine = marks.contains(&py(p.get("productNo")));
            (rank <= top || mine).then(|| {
                vec![
                    format!("#{rank}"),
                    format!("{:.1}", p["score"].as_f64().unwrap_or(0.0)),
                    or(p.get("name"), "?"),
                    py(p.get("productNo")),
                    py(p.get("likeCount")),
                    py(p.get("reviewCount")),
                    py(p.get("paidOrderLines")),
                    if mine { "◀ demo" } else { "" }.into(),
                ]
            })
        })
        .collect();
    let head = [
        "rank",
        "score",
        "product",
        "productNo",
        "likes",
        "reviews",
        "paid lines",
        "",
    ];
    let mut out = table(&head, &rows, "");
    if rows.is_empty() {
        out.push_str("(no ranked products yet)\n");
    }
    out
}

fn orders(d: &Value) -> String {
    let rows: Vec<Vec<String>> = items(d, "orders")
        .iter()
        .map(|o| {
            let settled = o["walletSettled"].as_bool().unwrap_or(false);
            vec![
                py(o.get("orderId")),
                or(o.get("orderName"), ""),
                py(o.get("status")),
                py(o.get("totalAmount")),
                if settled { "yes" } else { "no" }.into(),
                cut(o.get("createdDateTime"), 23),
                items(o, "lines").len().to_string(),
            ]
        })
        .collect();
    let head = [
        "orderId",
        "orderName",
        "status",
        "total",
        "settled",
        "createdDateTime",
        "lines",
    ];
    let mut out = table(&head, &rows, "");
    if rows.is_empty() {
        out.push_str("(no orders)\n");
    }
    out
}

fn ledger(d: &Value) -> String {
    let rows: Vec<Vec<String>> = items(d, "recentTransactions")
        .iter()
        .map(|t| {
            vec![
                cut(t.get("createdAt"), 23),
                py(t.get("type")),
                py(t.get("amount")),
                or(t.get("orderId"), ""),
                or(t.get("paymentOrderNo"), ""),
            ]
        })
        .collect();
    let head = ["createdAt", "kind", "amount", "orderId", "paymentOrderNo"];
    // the columns fit every row, also those past the 8 shown
    let widths = table(&head, &rows, "");
    let mut out: String = widths.lines().take(9).map(|l| format!("{l}\n")).collect();
    if rows.len() > 8 {
        out.push_str(&format!("… {} more\n", rows.len() - 8));
    }
    if rows.is_empty() {
        out.push_str("(no transactions)\n");
    }
    out
}

#[cfg(test)]
#[path = "tables_tests.rs"]
mod tests;
