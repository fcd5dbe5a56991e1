//! A tiny W3C WebDriver client for the browser tests: it starts chromedriver with a headless
//! Chromium session and speaks the WebDriver HTTP protocol with reqwest. Only what the tests use.
// Included by several test binaries (#[path]), each using a part of it.
#![allow(dead_code)]

use std::{
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::time::{sleep, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM_ARGS: &str = "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --disable-quic --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --window-size=1000,800";
/// How long a lookup waits for its element or page (loads and redirects happen in between).
const WAIT: Duration = Duration::from_secs(10);
/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Retries `attempt` every 100 ms until it succeeds; panics with its last error after `WAIT`.
async fn poll<T>(what: &str, attempt: impl AsyncFn() -> Result<T, String>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        match attempt().await {
            Ok(value) => return value,
            Err(e) if Instant::now() >= deadline => panic!("{what}: failing for {WAIT:?}: {e}"),
            Err(_) => sleep(Duration::from_millis(100)).await,
        }
    }
}

/// chromedriver with one headless Chromium session. Dropping it kills chromedriver's process
/// group (chromedriver and the browser it started), also when a test panics.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    profile: PathBuf,
}

impl Browser {
    /// Starts chromedriver (logging to `log`) on a free port and opens a session.
    pub async fn launch(log: &Path) -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: the browser tests need the Debian packages `chromium` and \
                 `chromium-driver` (apt-get install -y chromium chromium-driver)"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port for chromedriver")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .args([
                format!("--port={port}"),
                format!("--log-path={}", log.display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let profile =
            std::env::temp_dir().join(format!("paymsa-chromium-{}-{port}", std::process::id()));
        let mut browser = Browser {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("http client"),
            session: format!("http://127.0.0.1:{port}"),
            driver,
            profile,
        };
        let started = format!("chromedriver (log: {})", log.display());
        poll(&started, async || {
            let status = browser.call(Method::GET, "/status", None).await?;
            (status["ready"] == true)
                .then_some(())
                .ok_or(format!("not ready: {status}"))
        })
        .await;
        let mut args: Vec<String> = CHROMIUM_ARGS.split_whitespace().map(String::from).collect();
        args.push(format!("--user-data-dir={}", browser.profile.display()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let created = browser
            .call(Method::POST, "/session", Some(capabilities))
            .await
            .unwrap_or_else(|e| panic!("no browser session: {e}; see {}", log.display()));
        let id = created["sessionId"].as_str().expect("a session id");
        browser.session = format!("{}/session/{id}", browser.session);
        browser
    }

    /// One WebDriver command: its `value`, or the WebDriver error as text.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply: Value = async { request.send().await?.json().await }
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        match reply["value"]["error"].as_str() {
            Some(error) => Err(format!("{path}: {error}: {}", reply["value"]["message"])),
            None => Ok(reply["value"].clone()),
        }
    }

    pub async fn goto(&self, url: &str) {
        let body = json!({ "url": url });
        if let Err(e) = self.call(Method::POST, "/url", Some(body)).await {
            panic!("cannot open {url}: {e}");
        }
    }

    /// Waits until the browser is on a page with this path; the page's URL.
    pub async fn wait_for_path(&self, path: &str) -> url::Url {
        poll(&format!("waiting for {path}"), async || {
            let url = self.call(Method::GET, "/url", None).await?;
            let url: url::Url = url.as_str().and_then(|u| u.parse().ok()).ok_or("no URL")?;
            (url.path() == path)
                .then_some(url.clone())
                .ok_or(format!("on {url}"))
        })
        .await
    }

    /// Finds `css` (waiting for it) and sends it `command` (e.g. `click`); the reply's value.
    async fn on_element(&self, css: &str, method: Method, command: &str) -> Value {
        let body = (method == Method::POST).then(|| json!({}));
        self.on_element_with(css, method, command, body).await
    }

    async fn on_element_with(
        &self,
        css: &str,
        method: Method,
        command: &str,
        body: Option<Value>,
    ) -> Value {
        poll(&format!("{command} {css}"), async || {
            let find = json!({"using": "css selector", "value": css});
            let found = self.call(Method::POST, "/element", Some(find)).await?;
            let id = found[ELEMENT].as_str().ok_or("no element reference")?;
            let path = format!("/element/{id}/{command}");
            self.call(method.clone(), &path, body.clone()).await
        })
        .await
    }

    pub async fn click(&self, css: &str) {
        self.on_element(css, Method::POST, "click").await;
    }

    /// Types `text` into the input `css`.
    pub async fn fill(&self, css: &str, text: &str) {
        let body = Some(json!({ "text": text }));
        self.on_element_with(css, Method::POST, "value", body).await;
    }

    pub async fn text(&self, css: &str) -> String {
        let text = self.on_element(css, Method::GET, "text").await;
        text.as_str().expect("element text is a string").to_string()
    }

    /// How many elements match `css` now (no waiting: 0 is an answer).
    pub async fn count(&self, css: &str) -> usize {
        let find = json!({"using": "css selector", "value": css});
        let found = self.call(Method::POST, "/elements", Some(find)).await;
        found
            .unwrap_or_else(|e| panic!("finding {css}: {e}"))
            .as_array()
            .map_or(0, Vec::len)
    }

    /// Reloads the page until `css` shows `want` (e.g. a read model catching up).
    pub async fn reload_until_text(&self, css: &str, want: &str) {
        poll(&format!("{css} showing {want:?}"), async || {
            self.call(Method::POST, "/refresh", Some(json!({}))).await?;
            let find = json!({"using": "css selector", "value": css});
            let found = self.call(Method::POST, "/element", Some(find)).await?;
            let id = found[ELEMENT].as_str().ok_or("no element reference")?;
            let text = self
                .call(Method::GET, &format!("/element/{id}/text"), None)
                .await?;
            (text == want).then_some(()).ok_or(format!("shows {text}"))
        })
        .await
    }

    /// Saves a PNG of the window.
    pub async fn screenshot(&self, file: &Path) {
        let data = self.call(Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.expect("screenshot").as_str().expect("base64 text"))
            .expect("a screenshot in base64");
        std::fs::write(file, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
    }

    /// Ends the session (Chromium exits); dropping then stops chromedriver.
    pub async fn quit(self) {
        let _ = self.call(Method::DELETE, "", None).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver does not take Chromium down when it is killed.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
