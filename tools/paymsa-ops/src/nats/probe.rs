//! Is a NATS server usable? The `INFO` line a server sends to every new connection names its
//! version and whether JetStream is on; reading it needs no client library and no credentials.

use std::{
    io::{BufRead, BufReader},
    net::{TcpStream, ToSocketAddrs},
    time::Duration,
};

use service_kit::{infra::MIN_NATS_VERSION, nats_binary::NatsVersion};

/// What a server says about itself on connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    pub version: String,
    pub jetstream: bool,
    pub auth_required: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    #[error("no NATS server answering")]
    NotAnswering(#[source] std::io::Error),
    #[error("nats-server {version} is older than {}.{}", MIN_NATS_VERSION.0, MIN_NATS_VERSION.1)]
    TooOld { version: String },
    #[error("nats-server {0} has JetStream disabled")]
    NoJetStream(String),
}

/// The server of `url` (the first of a comma-separated list) when it is recent enough and has
/// JetStream.
pub fn usable(url: &str) -> Result<ServerInfo, Unusable> {
    let info = server_info(url).map_err(Unusable::NotAnswering)?;
    let recent =
        NatsVersion::parse(&info.version).is_some_and(|v| (v.major, v.minor) >= MIN_NATS_VERSION);
    if !recent {
        return Err(Unusable::TooOld {
            version: info.version,
        });
    }
    if !info.jetstream {
        return Err(Unusable::NoJetStream(info.version));
    }
    Ok(info)
}

/// Connects to the first address of `url` and reads the `INFO` line (3 s at most).
pub fn server_info(url: &str) -> std::io::Result<ServerInfo> {
    let address = host_port(url);
    let timeout = Duration::from_secs(3);
    let socket = address
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{address}: no address")))?;
    let stream = TcpStream::connect_timeout(&socket, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    parse_info(&line).ok_or_else(|| std::io::Error::other("no INFO line from the server"))
}

/// `INFO {json}` → the fields we read.
pub fn parse_info(line: &str) -> Option<ServerInfo> {
    let json: serde_json::Value = serde_json::from_str(line.strip_prefix("INFO ")?).ok()?;
    let flag = |name: &str| json.get(name).and_then(|v| v.as_bool()).unwrap_or(false);
    Some(ServerInfo {
        version: json.get("version")?.as_str()?.to_string(),
        jetstream: flag("jetstream"),
        auth_required: flag("auth_required"),
    })
}

/// `host:port` of the first server of `url`, without scheme, credentials or path; port 4222
/// when none is given, `localhost` as 127.0.0.1 (the servers listen on IPv4).
pub fn host_port(url: &str) -> String {
    let first = url.split(',').next().unwrap_or_default().trim();
    let rest = first.split_once("://").map_or(first, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    let rest = rest.split('/').next().unwrap_or_default();
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => (host, port),
        None => (rest, "4222"),
    };
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{port}")
}
