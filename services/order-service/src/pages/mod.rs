//! The storefront of the reference's browser flow, served by order-service on 8080 (hidden from
//! the API docs): the main page (hot products, then the catalog), product pages with likes and
//! reviews, a cart, checkout by POST, the PSP's payment window, success/fail pages, "my orders"
//! with cancel, and a seller page with the wallet.
//!
//! Server-rendered HTML without scripts (except Toss' own widget when a client key is set). The
//! other services are called server-side ([`backends`]), since they do not allow CORS
//! (libs/service-kit/src/middleware.rs). Who the visitor is comes from a session cookie
//! ([`session`]): a member/seller number in open mode, a pasted JWT in jwt mode — verified here
//! like a bearer token and forwarded as one, so each service applies its own rules
//! (docs/identity.md). A GET never creates an order: only `POST /checkout` does.

mod account;
mod backends;
mod cart;
mod payment;
mod session;
mod store;

use std::sync::Arc;

use poem_openapi::{payload::Html, ApiResponse};
use rust_decimal::Decimal;

use crate::api::OrderApi;
pub use backends::{BackendUrls, Backends};

pub struct PageSettings {
    /// Where browsers reach this service (for the PSP's redirects); by default the `Host`
    /// the browser used.
    pub public_url: Option<String>,
    /// The sandbox's payment window, used unless a Toss client key is configured.
    pub psp_window_url: String,
    pub toss_client_key: Option<String>,
}

/// What every page handler shares.
pub struct PageContext {
    pub api: OrderApi,
    pub settings: PageSettings,
    pub backends: Backends,
}

/// All page groups, one `OpenApi` type each (every one hidden).
pub type Pages = (
    store::StorePages,
    cart::CartPages,
    payment::PaymentPages,
    account::AccountPages,
    session::SessionPages,
);

impl PageContext {
    /// Whether the shop is served over https (`PUBLIC_URL`): its cookies are then `Secure`.
    pub fn secure(&self) -> bool {
        self.settings
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
    }
}

pub fn pages(ctx: PageContext) -> Pages {
    let ctx = Arc::new(ctx);
    (
        store::StorePages { ctx: ctx.clone() },
        cart::CartPages { ctx: ctx.clone() },
        payment::PaymentPages { ctx: ctx.clone() },
        account::AccountPages { ctx: ctx.clone() },
        session::SessionPages { ctx },
    )
}

/// A page, or a redirect after a form post (303: the browser follows with a GET, so a reload
/// never repeats the post).
#[derive(ApiResponse)]
pub enum Reply {
    #[oai(status = 200)]
    Page(Html<String>),
    #[oai(status = 303)]
    SeeOther(#[oai(header = "Location")] String),
}

pub use service_kit::html::escape;

/// A page with the storefront's navigation.
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"ko\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;max-width:48em;margin:1.5em auto}}\
         nav a{{margin-right:1em}}table{{border-collapse:collapse}}\
         td,th{{border-bottom:1px solid #ddd;padding:.3em .6em;text-align:left}}\
         .err{{color:#b00}}</style></head><body>\
         <nav><a id=\"nav-home\" href=\"/\">상점</a><a id=\"nav-cart\" href=\"/cart\">장바구니</a>\
         <a id=\"nav-orders\" href=\"/orders\">내 주문</a><a id=\"nav-seller\" href=\"/seller\">판매자</a>\
         <a id=\"nav-login\" href=\"/login\">로그인</a></nav><h1>{t}</h1>{body}</body></html>",
        t = escape(title),
    ))
}

/// An error page: `message` shown in `#error`.
pub fn error_page(title: &str, message: &str) -> Html<String> {
    page(
        title,
        &format!("<p id=\"error\" class=\"err\">{}</p>", escape(message)),
    )
}

/// KRW has no minor unit: `6000.00` (the scale of a numeric column) shows as `6000`.
pub fn won(amount: Decimal) -> String {
    amount.normalize().to_string()
}

pub fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
