//! Plain server-side HTML. Everything that comes from a service or from NATS goes through
//! [`esc`]: payloads, headers, subjects and error texts are attacker-controlled.

use poem::{http::StatusCode, Response};

pub use service_kit::html::escape as esc;

const STYLE: &str = "body{font-family:sans-serif;margin:0 2em 2em}nav{padding:.8em 0;\
    border-bottom:1px solid #ccc;margin-bottom:1em}nav a{margin-right:1.2em}\
    table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;\
    padding:.25em .6em;text-align:left;font-size:.9em}th{background:#f4f4f4}\
    .num{text-align:right}.warn{color:#a00;font-weight:bold}.ok{color:#070}\
    .error{background:#fee;border:1px solid #c66;padding:.5em}pre{background:#f7f7f7;\
    padding:.6em;overflow:auto;max-height:30em}nav form{display:inline}";

/// A console page: navigation, a logout button (with the session's CSRF token) and `body`.
pub fn page(title: &str, csrf: &str, body: &str) -> Response {
    let nav = format!(
        "<nav><b>paymsa ops</b> &nbsp; <a href=\"/streams\">Streams</a>\
         <a href=\"/dead-letters\">Dead letters</a><a href=\"/outbox\">Outbox</a>\
         <a href=\"/payments\">Payments</a><form method=\"post\" action=\"/logout\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><button id=\"logout\">Log out</button>\
         </form></nav>",
        esc(csrf)
    );
    document(
        StatusCode::OK,
        title,
        &format!("{nav}<h1>{}</h1>{body}", esc(title)),
    )
}

/// A whole HTML document with `status`.
pub fn document(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} · paymsa ops\
         </title><style>{STYLE}</style></head><body>{body}</body></html>",
        esc(title)
    );
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        // The pages show payloads and credentials' results: no caching, no framing.
        .header("cache-control", "no-store")
        .header("x-frame-options", "DENY")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        )
        .body(html)
}

/// A table; every cell is escaped here, `numeric` columns are right-aligned.
pub fn table(id: &str, head: &[&str], rows: &[Vec<String>], numeric: &[usize]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| esc(c)).collect())
        .collect();
    table_html(id, head, &rows, numeric)
}

/// [`table`] with cells that are HTML already (links); the caller escapes what is in them.
pub fn table_html(id: &str, head: &[&str], rows: &[Vec<String>], numeric: &[usize]) -> String {
    let mut out = format!("<table id=\"{}\"><tr>", esc(id));
    for h in head {
        out.push_str(&format!("<th>{}</th>", esc(h)));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if numeric.contains(&i) {
                " class=\"num\""
            } else {
                ""
            };
            out.push_str(&format!("<td{class}>{cell}</td>"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

/// A failure to read a source, shown in place of its section.
pub fn error_box(what: &str, why: &str) -> String {
    format!("<p class=\"error\">{}: {}</p>", esc(what), esc(why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        let t = table("t", &["h"], &[vec!["<b>".into()]], &[]);
        assert!(t.contains("&lt;b&gt;") && !t.contains("<b>"));
    }
}
