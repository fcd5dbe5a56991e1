//! `paymsa-ops nats …`: the NATS server of the local stack and of `just test` (scripts/nats.sh
//! only builds this binary and hands over). A nats-server >= the Jepsen fixes with JetStream,
//! found or installed by service_kit::nats_binary, started detached with the config of
//! service_kit::nats_server (fsync before acknowledging), and with the per-service users of
//! deploy/nats/auth.conf when `NATS_AUTH=1` (`just up`).
//!
//! Only the URL goes to stdout (`url=$(scripts/nats.sh ensure)`); messages go to stderr.
//! Environment: `NATS_INSTANCE` (state under .run/, see [`instance`]), `NATS_URL` (a server to
//! reuse), `NATS_AUTH`, `NATS_FRESH=1` (wipe the store first), `NATS_PORT` / `NATS_MONITOR_PORT`
//! (first ports tried, 4333 / 8333), `NATS_SERVER_BIN`, `NATS_SYNC_INTERVAL`
//! (docs/local-stack.md).

mod instance;
mod probe;
mod process;
mod say;
mod secrets;
mod start;
#[cfg(test)]
mod tests;

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{bail, Context};

use instance::Instance;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Reuse $NATS_URL or the server we started, else start one; prints the URL
    Ensure,
    /// Stop the server we started (never any other)
    Stop,
    /// Print the URL in use
    Url,
    /// One line about the server in use
    Status,
    /// The URL with the operators' credentials (paymsa-admin) when the server requires them
    AdminUrl,
    /// Path of the generated passwords; fails when the server runs without authorization
    Secrets,
    /// NATS_PASSWORD_<USER>=<random> lines for compose.yaml's .env
    ComposeEnv,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let nats = Instance::from_env(repository_root());
    match command {
        Command::Ensure => sayln!("{}", ensure(&nats)?),
        Command::Stop => stop(&nats)?,
        Command::Url => sayln!("{}", url(&nats)?),
        Command::Status => status(&nats),
        Command::AdminUrl => sayln!("{}", admin_url(&nats)?),
        Command::Secrets => sayln!("{}", secrets_path(&nats)?.display()),
        Command::ComposeEnv => {
            for name in secrets::password_variables(&read_auth_conf(&nats)?) {
                sayln!("{name}={}", secrets::random_password()?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `PAYMSA_ROOT` (scripts/nats.sh sets it), else the checkout this binary was built from.
fn repository_root() -> PathBuf {
    match std::env::var_os("PAYMSA_ROOT") {
        Some(root) if !root.is_empty() => PathBuf::from(root),
        _ => {
            let built_from = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
            built_from.canonicalize().unwrap_or(built_from)
        }
    }
}

fn flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == "1")
}

fn read_auth_conf(nats: &Instance) -> anyhow::Result<String> {
    let path = nats.auth_conf();
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

fn ensure(nats: &Instance) -> anyhow::Result<String> {
    // 1. an explicitly configured server
    if let Some(url) = std::env::var("NATS_URL").ok().filter(|u| !u.is_empty()) {
        match probe::usable(&url) {
            Ok(info) => {
                say::ok(&format!(
                    "reusing NATS_URL={url} (nats-server {}, JetStream on)",
                    info.version
                ));
                nats.write_urls(&url, None)?;
                return Ok(url);
            }
            Err(why) => {
                say::dim(&format!("  {url}: {why}"));
                say::warn(&format!(
                    "NATS_URL={url} is not a usable NATS >= 2.11 with JetStream; starting our own"
                ));
            }
        }
    }
    // 2. the server we started earlier
    if let (Some(pid), Some(url)) = (nats.running_pid(), nats.recorded_url()) {
        match probe::usable(&url) {
            Ok(_) => {
                say::ok(&format!("nats-server already running on {url} (pid {pid})"));
                if flag("NATS_AUTH") && !nats.auth_mark().is_file() {
                    say::warn(
                        "it runs without authorization (started before NATS_AUTH=1); restart \
                         it for the per-service users: just down && just up",
                    );
                }
                return Ok(url);
            }
            Err(why) => {
                say::dim(&format!("  {url}: {why}"));
                say::warn(&format!(
                    "our nats-server (pid {pid}) does not answer on {url}; restarting it"
                ));
                process::stop("nats-server", pid, Duration::from_secs(10));
            }
        }
    }
    instance::remove(&nats.pid_file())?;
    // 3. a new one
    start::start(nats)
}

fn stop(nats: &Instance) -> anyhow::Result<()> {
    if let Some(pid) = nats.running_pid() {
        say::info(&format!("stopping nats-server ({}, pid {pid})", nats.name));
        process::stop("nats-server", pid, Duration::from_secs(10));
    } else if let (Some(url), false) = (nats.recorded_url(), nats.pid_file().exists()) {
        say::dim(&format!(
            "  {url} was not started by this script; left alone"
        ));
    } else {
        say::dim(&format!("  no nats-server of ours ({}) running", nats.name));
    }
    for file in [
        nats.pid_file(),
        nats.url_file(),
        nats.monitor_file(),
        nats.auth_mark(),
    ] {
        instance::remove(&file)?;
    }
    Ok(())
}

fn url(nats: &Instance) -> anyhow::Result<String> {
    if let Some(url) = nats.recorded_url() {
        if let Err(why) = probe::usable(&url) {
            say::dim(&format!("  {url}: {why}"));
            bail!(
                "{url} (from {}) is not answering — run: just up",
                nats.shown(&nats.url_file())
            );
        }
        return Ok(url);
    }
    if let Some(url) = std::env::var("NATS_URL").ok().filter(|u| !u.is_empty()) {
        if probe::usable(&url).is_ok() {
            return Ok(url);
        }
    }
    bail!("no NATS server in use — run: just up (or scripts/nats.sh ensure)")
}

fn admin_url(nats: &Instance) -> anyhow::Result<String> {
    let url = url(nats)?;
    if !nats.requires_auth() {
        return Ok(url);
    }
    let file = nats.secrets_file();
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let password = secrets::parse(&text)
        .into_iter()
        .find(|(name, _)| name == secrets::ADMIN_VARIABLE)
        .map(|(_, password)| password)
        .unwrap_or_default();
    Ok(secrets::with_admin(&url, &password))
}

fn secrets_path(nats: &Instance) -> anyhow::Result<PathBuf> {
    if !nats.requires_auth() {
        bail!("nats ({}) runs without authorization", nats.name);
    }
    Ok(nats.secrets_file())
}

fn status(nats: &Instance) {
    let Some(url) = nats.recorded_url() else {
        sayln!("nats: not running (no {})", nats.shown(&nats.url_file()));
        return;
    };
    match probe::server_info(&url) {
        Ok(info) => {
            let who = match nats.running_pid() {
                Some(pid) => format!("pid {pid}"),
                None => "(not started by us)".into(),
            };
            let auth = if info.auth_required {
                "per-service-users"
            } else {
                "none"
            };
            sayln!(
                "nats: {url}  nats-server {}  jetstream={}  auth={auth}  {who}",
                info.version,
                info.jetstream
            );
            if let Some(monitor) = nats.recorded_monitor() {
                sayln!("nats monitoring: {monitor}");
            }
        }
        Err(_) => sayln!("nats: {url}  NOT ANSWERING"),
    }
}
