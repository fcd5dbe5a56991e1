//! Storefront pages over plain HTTP (order-service's `src/pages/`): form posts with the
//! session and cart cookies, redirects not followed so their `Set-Cookie` can be read.

use reqwest::{header, redirect, Client};

/// No redirects followed: the tests read the 303s and their cookies.
pub fn client() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .expect("client")
}

/// A page: its status, body and `Set-Cookie` (name=value only).
pub async fn call(
    http: &Client,
    method: reqwest::Method,
    url: &str,
    cookies: &str,
    form: &[(&str, &str)],
) -> (u16, String, Vec<String>) {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let response = http
        .request(method, url)
        .header(header::COOKIE, cookies)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = response.status().as_u16();
    let set: Vec<String> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(String::from))
        .collect();
    (status, response.text().await.unwrap_or_default(), set)
}

/// The text of `id="<id>"`'s element in `html` (the pages' elements carry plain text).
pub fn element(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[start..];
    let open = rest.find('>')? + 1;
    let close = rest[open..].find('<')?;
    Some(rest[open..open + close].to_string())
}
