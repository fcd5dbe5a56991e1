//! Who the storefront's visitor is: the `paymsa_session` cookie, set by the login page. In open
//! mode it holds the member and seller numbers typed in; in jwt mode the pasted token, whose
//! verified claims say who the visitor is (the numbers typed are ignored). The cookie has no
//! `Max-Age` (gone with the browser session), is `HttpOnly` (scripts cannot read the token)
//! and `SameSite=Strict` (another site's form cannot post with it), `Secure` behind https; and
//! another site's form cannot set it either ([`cross_site`]).

use std::sync::Arc;

use poem::Request;
use poem_openapi::{
    payload::{Form, Response},
    Object, OpenApi,
};
use serde::Deserialize;
use service_kit::auth::{AuthMode, Authenticator, Identity};

use super::{escape, page, PageContext, Reply};

const SESSION_COOKIE: &str = "paymsa_session";

/// The session cookie's contents.
#[derive(Debug, Default, Clone)]
pub struct Session {
    pub member_no: Option<i64>,
    pub seller_no: Option<i64>,
    pub token: Option<String>,
}

/// The value of cookie `name` of the request.
pub fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value for this site's pages (empty `value` with `Max-Age=0` deletes it).
/// `Secure` when the shop is served over https (`PUBLIC_URL`): the session cookie carries a
/// bearer token, which must not travel over plain http.
pub fn set_cookie(name: &str, value: &str, secure: bool) -> String {
    let expiry = if value.is_empty() { "; Max-Age=0" } else { "" };
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{expiry}")
}

/// Whether a form post comes from another site. `SameSite=Strict` keeps the session cookie
/// off such a post, but `/login` needs none: another site's page could post its own token
/// there, and the visitor would go on to pay and review as the attacker (login CSRF). Browsers
/// say where a post comes from: `Sec-Fetch-Site` (sent to https and localhost only), else
/// `Origin`, compared with `PUBLIC_URL` when set (a proxy may rewrite `Host`), else with the
/// request's host. A client that says nothing (curl, a test) is no browser another site can
/// drive.
pub fn cross_site(req: &Request, public_url: Option<&str>) -> bool {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = header("origin") else {
        return false;
    };
    let Ok(origin) = url::Url::parse(origin) else {
        return true; // `null`: a sandboxed frame, a redirect from elsewhere
    };
    if let Some(public) = public_url.and_then(|u| url::Url::parse(u).ok()) {
        return origin.origin() != public.origin();
    }
    // HTTP/2 carries the host in the request's authority, not a Host header.
    let host = header("host").or_else(|| req.uri().authority().map(|a| a.as_str()));
    let Some(host) = host.and_then(|h| url::Url::parse(&format!("{}://{h}", origin.scheme())).ok())
    else {
        return true;
    };
    origin.origin() != host.origin()
}

fn positive(raw: &str) -> Option<i64> {
    raw.trim().parse::<i64>().ok().filter(|n| *n > 0)
}

impl Session {
    pub fn of(req: &Request) -> Session {
        let Some(raw) = cookie(req, SESSION_COOKIE) else {
            return Session::default();
        };
        let mut session = Session::default();
        for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
            match &*k {
                "m" => session.member_no = positive(&v),
                "s" => session.seller_no = positive(&v),
                "t" if !v.is_empty() => session.token = Some(v.into_owned()),
                _ => {}
            }
        }
        session
    }

    fn encoded(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        if let Some(m) = self.member_no {
            out.append_pair("m", &m.to_string());
        }
        if let Some(s) = self.seller_no {
            out.append_pair("s", &s.to_string());
        }
        if let Some(t) = &self.token {
            out.append_pair("t", t);
        }
        out.finish()
    }
}

/// The visitor: their identity (as a bearer token would give it) and who they act as.
pub struct Visitor {
    pub identity: Identity,
    pub session: Session,
}

impl Visitor {
    pub fn of(req: &Request) -> Visitor {
        let session = Session::of(req);
        let auth = req.data::<Arc<Authenticator>>().cloned();
        let peer = service_kit::auth::client_of(req, auth.as_deref());
        let identity = Identity::resolve(auth, session.token.as_deref(), peer);
        Visitor { identity, session }
    }

    fn jwt(&self) -> bool {
        self.identity.mode() == AuthMode::Jwt
    }

    /// The member the visitor acts as, or why there is none.
    pub fn member_no(&self) -> Result<i64, String> {
        if !self.jwt() {
            return self.session.member_no.ok_or_else(|| LOGIN_FIRST.into());
        }
        match self.identity.claims() {
            Ok(Some(claims)) => claims
                .member_no
                .ok_or_else(|| "the token has no member_no".into()),
            Ok(None) => Err(LOGIN_FIRST.into()),
            Err(e) => Err(format!("{}: {}", LOGIN_FIRST, e.problem().detail)),
        }
    }

    /// The seller the visitor acts as, or why there is none.
    pub fn seller_no(&self) -> Result<i64, String> {
        if !self.jwt() {
            return self.session.seller_no.ok_or_else(|| LOGIN_FIRST.into());
        }
        match self.identity.claims() {
            Ok(Some(claims)) => claims
                .seller_no
                .ok_or_else(|| "the token has no seller_no".into()),
            Ok(None) => Err(LOGIN_FIRST.into()),
            Err(e) => Err(format!("{}: {}", LOGIN_FIRST, e.problem().detail)),
        }
    }

    /// The token to forward to the other services (jwt mode only).
    pub fn bearer(&self) -> Option<&str> {
        self.jwt()
            .then_some(self.session.token.as_deref())
            .flatten()
    }
}

const LOGIN_FIRST: &str = "로그인이 필요합니다 (/login)";

#[derive(Debug, Object, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct LoginForm {
    #[serde(default)]
    member_no: Option<String>,
    #[serde(default)]
    seller_no: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

pub struct SessionPages {
    pub ctx: Arc<PageContext>,
}

#[OpenApi]
impl SessionPages {
    /// Who am I: member/seller numbers (open mode) or a token (jwt mode).
    #[oai(path = "/login", method = "get", hidden)]
    async fn login_page(&self, req: &Request) -> Reply {
        let visitor = Visitor::of(req);
        let now = match (visitor.member_no(), visitor.seller_no()) {
            (Err(_), Err(_)) => "로그인하지 않음".to_string(),
            (m, s) => format!(
                "회원 <b id=\"session-member\">{}</b>, 판매자 <b id=\"session-seller\">{}</b>",
                m.map_or("-".into(), |m| m.to_string()),
                s.map_or("-".into(), |s| s.to_string())
            ),
        };
        let fields = if visitor.jwt() {
            "<p>토큰 (<code>just token member 7</code>)<br>\
             <textarea id=\"token\" name=\"token\" rows=\"4\" cols=\"60\"></textarea></p>"
                .to_string()
        } else {
            format!(
                "<p><label>회원 번호 <input id=\"member-no\" name=\"memberNo\" value=\"{}\"></label></p>\
                 <p><label>판매자 번호 <input id=\"seller-no\" name=\"sellerNo\" value=\"{}\"></label></p>",
                visitor.session.member_no.map_or(String::new(), |m| m.to_string()),
                visitor.session.seller_no.map_or(String::new(), |s| s.to_string()),
            )
        };
        Reply::Page(page(
            "로그인",
            &format!(
                "<p id=\"session\">{now}</p><form method=\"post\" action=\"/login\">{fields}\
                 <button id=\"login\" type=\"submit\">저장</button></form>\
                 <form method=\"post\" action=\"/logout\"><button id=\"logout\">로그아웃</button></form>"
            ),
        ))
    }

    /// Stores the session cookie and goes to the shop.
    #[oai(path = "/login", method = "post", hidden)]
    async fn login(&self, req: &Request, form: Form<LoginForm>) -> Response<Reply> {
        if cross_site(req, self.ctx.settings.public_url.as_deref()) {
            return refused_cross_site();
        }
        let form = form.0;
        let token = form.token.as_deref().unwrap_or("").trim();
        let session = Session {
            member_no: form.member_no.as_deref().and_then(positive),
            seller_no: form.seller_no.as_deref().and_then(positive),
            token: (!token.is_empty()).then(|| token.to_string()),
        };
        if session.token.as_ref().is_some_and(|t| t.len() > 3000) {
            return Response::new(Reply::Page(page(
                "로그인",
                &format!("<p id=\"error\">{}</p>", escape("token too long")),
            )));
        }
        Response::new(Reply::SeeOther("/".into())).header(
            "Set-Cookie",
            set_cookie(SESSION_COOKIE, &session.encoded(), self.ctx.secure()),
        )
    }

    #[oai(path = "/logout", method = "post", hidden)]
    async fn logout(&self, req: &Request) -> Response<Reply> {
        if cross_site(req, self.ctx.settings.public_url.as_deref()) {
            return refused_cross_site();
        }
        Response::new(Reply::SeeOther("/".into())).header(
            "Set-Cookie",
            set_cookie(SESSION_COOKIE, "", self.ctx.secure()),
        )
    }
}

fn refused_cross_site() -> Response<Reply> {
    forbidden(
        "로그인",
        "another site's form cannot sign you in or out here",
    )
}

/// A 403 page for a form post [`cross_site`] refuses: every storefront form that acts as the
/// visitor calls it first. `SameSite=Strict` keeps the session cookie off another site's post,
/// but not off a sibling subdomain's (`Sec-Fetch-Site: same-site`): until stop 31 the cancel,
/// like and review forms relied on the cookie alone, so a page on any `*.shop.example` host
/// could refund a visitor's order or like and review as them.
pub fn refuse_cross_site(
    req: &Request,
    public_url: Option<&str>,
    title: &str,
    why: &str,
) -> Option<Response<Reply>> {
    cross_site(req, public_url).then(|| forbidden(title, why))
}

fn forbidden(title: &str, why: &str) -> Response<Reply> {
    Response::new(Reply::Page(page(
        title,
        &format!("<p id=\"error\">{}</p>", escape(why)),
    )))
    .status(poem::http::StatusCode::FORBIDDEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_round_trips_through_its_cookie() {
        let session = Session {
            member_no: Some(7),
            seller_no: None,
            token: Some("a.b-c_d".into()),
        };
        let req = Request::builder()
            .header(
                "Cookie",
                format!("x=1; {SESSION_COOKIE}={}", session.encoded()),
            )
            .finish();
        let read = Session::of(&req);
        assert_eq!(read.member_no, Some(7));
        assert_eq!(read.seller_no, None);
        assert_eq!(read.token.as_deref(), Some("a.b-c_d"));
        let garbage = Request::builder()
            .header("Cookie", format!("{SESSION_COOKIE}=m=-3&s=x"))
            .finish();
        let read = Session::of(&garbage);
        assert_eq!((read.member_no, read.seller_no), (None, None));
    }

    #[test]
    fn a_post_from_another_site_is_told_apart() {
        let post = |public_url: Option<&str>, headers: &[(&str, &str)]| {
            let mut req = Request::builder().header("Host", "shop.example:8080");
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            cross_site(&req.finish(), public_url)
        };
        assert!(!post(None, &[]), "no browser: nothing to forge");
        assert!(!post(None, &[("Sec-Fetch-Site", "same-origin")]));
        assert!(
            !post(None, &[("Sec-Fetch-Site", "none")]),
            "typed or bookmarked"
        );
        assert!(post(None, &[("Sec-Fetch-Site", "cross-site")]));
        assert!(
            post(None, &[("Sec-Fetch-Site", "same-site")]),
            "a sibling subdomain"
        );
        assert!(!post(None, &[("Origin", "http://shop.example:8080")]));
        assert!(post(None, &[("Origin", "https://evil.example")]));
        assert!(post(None, &[("Origin", "null")]), "a sandboxed frame");
        // Behind a proxy that rewrites Host, PUBLIC_URL says what the shop's origin is.
        let public = Some("https://shop.example");
        assert!(!post(public, &[("Origin", "https://shop.example")]));
        assert!(
            !post(public, &[("Origin", "https://shop.example:443")]),
            "default port"
        );
        assert!(
            post(public, &[("Origin", "http://shop.example")]),
            "another scheme"
        );
        assert!(post(public, &[("Origin", "https://evil.example")]));
    }

    #[test]
    fn the_cookie_is_secure_when_the_shop_is_https() {
        assert!(set_cookie("a", "b", true).contains("; Secure"));
        assert!(!set_cookie("a", "b", false).contains("Secure"));
        assert!(set_cookie("a", "", true).ends_with("Max-Age=0"));
    }
}
