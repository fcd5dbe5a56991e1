//! What every flow uses: the HTTP calls (printed as `→ METHOD :port/path status (time)`, any
//! status but the expected ones failing the step with the problem's code and detail), the
//! state file, the defaults of the single-flow recipes and the readiness check of the stack.

use std::path::PathBuf;

use anyhow::{bail, Context};
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::Value;
use service_kit::stack_table;

use super::{out::Out, state::State};
use crate::{
    admin::{self, Admin},
    http::{self, Answer, Client},
};

pub const ORDER: &str = "order-service";
pub const CATALOG: &str = "catalog-service";
pub const WALLET: &str = "wallet-service";
pub const SELLER: &str = "seller-service";
pub const HOT: &str = "hot-catalog-service";
pub const REVIEW: &str = "catalog-review-service";
pub const LIKE: &str = "catalog-like-service";
pub const ORDER_QUERY: &str = "order-query-service";
pub const SANDBOX: &str = "psp-sandbox";

pub struct Settings {
    pub state_path: PathBuf,
    pub nats: Option<String>,
    pub postgres: String,
}

pub struct Demo {
    pub out: Out,
    pub state: State,
    /// `just demo`: the likes come from three members.
    pub all: bool,
    pub settings: Settings,
    client: Client,
    token: String,
}

/// One request of a flow.
pub struct Req {
    method: Method,
    service: &'static str,
    path: String,
    body: Option<Value>,
    admin: bool,
    quiet: bool,
}

pub fn get(service: &'static str, path: impl Into<String>) -> Req {
    Req {
        method: Method::GET,
        service,
        path: path.into(),
        body: None,
        admin: false,
        quiet: false,
    }
}

/// A POST with a JSON body (`Value::Null`: none).
pub fn post(service: &'static str, path: impl Into<String>, body: Value) -> Req {
    Req {
        method: Method::POST,
        body: (!body.is_null()).then_some(body),
        ..get(service, path)
    }
}

impl Req {
    /// With the admin token.
    pub fn admin(self) -> Self {
        Self {
            admin: true,
            ..self
        }
    }

    /// Without its `→` line (the polls, the lookups around a step).
    pub fn quiet(self) -> Self {
        Self {
            quiet: true,
            ..self
        }
    }

    /// `:8080/api/…`, as the `→` lines show it.
    pub fn shown(&self) -> String {
        http::shown_path(self.service, &self.path)
    }
}

/// `value` from the state file, else the seed data's `seed`.
pub fn or_seed(value: &str, seed: &str) -> String {
    if value.is_empty() { seed } else { value }.to_string()
}

/// A member number of this second (the bash demo's: 700000000 + epoch seconds mod 10⁸).
pub fn new_member_no() -> String {
    let now = chrono::Utc::now().timestamp();
    (now.rem_euclid(100_000_000) + 700_000_000).to_string()
}

impl Demo {
    pub fn new(settings: Settings, total: usize) -> anyhow::Result<Self> {
        let state = State::load(&settings.state_path)?;
        Ok(Self {
            out: Out::new(total),
            state,
            all: false,
            settings,
            client: Client::new()?,
            token: admin::token_from_env(),
        })
    }

    /// The admin API as `just dlq` asks it.
    pub fn admin(&self) -> Admin {
        Admin::new(self.client.clone(), self.token.clone())
    }

    pub fn state_path(&self) -> &std::path::Path {
        &self.settings.state_path
    }

    pub fn save(&self) -> anyhow::Result<()> {
        self.state.save(&self.settings.state_path)
    }

    /// Sends `req` as it is: any status is an answer.
    pub async fn send(&self, req: &Req) -> anyhow::Result<Answer> {
        let token = req.admin.then_some(self.token.as_str());
        self.client
            .send(
                req.method.clone(),
                req.service,
                &req.path,
                req.body.as_ref(),
                token,
            )
            .await
    }

    /// Sends `req`, prints its line (unless quiet); a status not in `expect` fails the step.
    pub async fn call(&self, req: Req, expect: &[u16]) -> anyhow::Result<Answer> {
        let answer = self.send(&req).await?;
        let shown = req.shown();
        if !req.quiet {
            self.out
                .call(req.method.as_str(), &shown, answer.status, answer.took);
        }
        if !expect.contains(&answer.status) {
            let expected: Vec<String> = expect.iter().map(u16::to_string).collect();
            bail!(
                "{} {shown} answered {} (expected {}): {}",
                req.method,
                answer.status,
                expected.join(" "),
                answer.problem()
            );
        }
        Ok(answer)
    }

    /// Every service answers `/health/ready`; if not, says which do not and how to start them.
    pub async fn preflight(&self) -> bool {
        let mut down = Vec::new();
        for row in stack_table::SERVICES {
            if !self.client.ready(row.name).await {
                down.push(row.name);
            }
        }
        if down.is_empty() {
            return true;
        }
        let style = self.out.style();
        self.out.line(format!(
            "{}✗ not ready: {}{}",
            style.red,
            down.join(" "),
            style.off
        ));
        self.out
            .line("  start the stack with: just up   (what runs: just status)");
        false
    }

    /// The demo's products when there are some, else the seed data's.
    pub fn default_products(&self) -> String {
        if self.state.p1.is_empty() {
            "1,2".into()
        } else {
            format!("{},{}", self.state.p1, self.state.p2)
        }
    }

    /// The product a single flow engages with by default: the demo's mouse, else seed product 2.
    pub fn mouse_or_seed(&self) -> String {
        or_seed(&self.state.p2, "2")
    }

    /// `member`, else the demo's member, else a new one (remembered).
    pub fn member_or_default(&mut self, member: Option<String>) -> anyhow::Result<String> {
        if let Some(member) = member {
            return Ok(member);
        }
        if self.state.member_no.is_empty() {
            self.state.member_no = new_member_no();
            self.save()?;
        }
        Ok(self.state.member_no.clone())
    }

    /// "Mechanical keyboard 3825…" for the demo's products, else "product N".
    pub fn label(&self, product: &str) -> String {
        if product == self.state.p1 {
            format!("Mechanical keyboard {product}")
        } else if product == self.state.p2 {
            format!("Wireless mouse {product}")
        } else {
            format!("product {product}")
        }
    }

    /// A price the state file holds.
    pub fn price(&self, text: &str) -> anyhow::Result<Decimal> {
        text.parse().with_context(|| {
            format!("the demo's state holds no price ({text:?}): run just products")
        })
    }
}
