//! The browser tests' driver: chromedriver with a headless Chromium session, spoken to through
//! the `fantoccini` WebDriver client (plain HTTP to 127.0.0.1, so no TLS backend is built in).
//! This wraps it in the few waiting helpers the tests use: every lookup retries until its
//! element or page is there, since loads and redirects happen in between.
// Included by the e2e binary (#[path] in tests/tests/e2e/main.rs); each test uses a part of it.
#![allow(dead_code)]

use std::{
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Map, Value};
use tokio::time::{sleep, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM_ARGS: &str = "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --disable-quic --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --window-size=1000,800";
/// How long a lookup waits for its element or page (loads and redirects happen in between).
const WAIT: Duration = Duration::from_secs(10);

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
    client: Client,
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
        let mut driver = Command::new(CHROMEDRIVER)
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
        let mut args: Vec<String> = CHROMIUM_ARGS.split_whitespace().map(String::from).collect();
        args.push(format!("--user-data-dir={}", profile.display()));
        let mut capabilities = Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": args}),
        );
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities);
        let url = format!("http://127.0.0.1:{port}");
        // chromedriver listens a moment after it starts: until then the session is refused
        let started = format!("a session of chromedriver (log: {})", log.display());
        let connected = tokio::time::timeout(
            WAIT * 3,
            poll(&started, async || {
                builder.connect(&url).await.map_err(|e| e.to_string())
            }),
        )
        .await;
        let client = match connected {
            Ok(client) => client,
            Err(_) => {
                let _ = driver.kill();
                panic!("{started}: no session within {:?}", WAIT * 3)
            }
        };
        Browser {
            client,
            driver,
            profile,
        }
    }

    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.client.goto(url).await {
            panic!("cannot open {url}: {e}");
        }
    }

    /// Waits until the browser is on a page with this path; the page's URL.
    pub async fn wait_for_path(&self, path: &str) -> url::Url {
        poll(&format!("waiting for {path}"), async || {
            let url = self.client.current_url().await.map_err(|e| e.to_string())?;
            (url.path() == path)
                .then_some(url.clone())
                .ok_or(format!("on {url}"))
        })
        .await
    }

    /// Finds `css` (waiting for it) and clicks it.
    pub async fn click(&self, css: &str) {
        poll(&format!("click {css}"), async || {
            let element = self.find(css).await?;
            element.click().await.map_err(|e| format!("{css}: {e}"))
        })
        .await
    }

    /// Types `text` into the input `css`, cleared first: a retried attempt must not append
    /// to what a failed one typed.
    pub async fn fill(&self, css: &str, text: &str) {
        poll(&format!("value {css}"), async || {
            let element = self.find(css).await?;
            element.clear().await.map_err(|e| format!("{css}: {e}"))?;
            element
                .send_keys(text)
                .await
                .map_err(|e| format!("{css}: {e}"))
        })
        .await
    }

    pub async fn text(&self, css: &str) -> String {
        poll(&format!("text {css}"), async || self.text_now(css).await).await
    }

    /// How many elements match `css` now (no waiting: 0 is an answer).
    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("finding {css}: {e}"))
            .len()
    }

    /// Reloads the page until `css` shows `want` (e.g. a read model catching up).
    pub async fn reload_until_text(&self, css: &str, want: &str) {
        poll(&format!("{css} showing {want:?}"), async || {
            self.client.refresh().await.map_err(|e| e.to_string())?;
            let text = self.text_now(css).await?;
            (text == want)
                .then_some(())
                .ok_or(format!("shows {:?}", Value::from(text)))
        })
        .await
    }

    /// Saves a PNG of the window.
    pub async fn screenshot(&self, file: &Path) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(file, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
    }

    /// Ends the session (Chromium exits); dropping then stops chromedriver.
    pub async fn quit(self) {
        let _ = self.client.clone().close().await;
    }

    async fn find(&self, css: &str) -> Result<fantoccini::elements::Element, String> {
        self.client
            .find(Locator::Css(css))
            .await
            .map_err(|e| format!("{css}: {e}"))
    }

    async fn text_now(&self, css: &str) -> Result<String, String> {
        let element = self.find(css).await?;
        element.text().await.map_err(|e| format!("{css}: {e}"))
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
