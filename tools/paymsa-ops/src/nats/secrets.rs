//! The passwords of the bus users (docs/identity.md, "The bus"): deploy/nats/auth.conf names
//! one `$NATS_PASSWORD_<USER>` per user; nats-server resolves them from its environment. The
//! local stack's are made once into `.run/<instance>/secrets.env` (mode 600, never committed)
//! and kept across restarts, so running services keep theirs.

use std::{
    collections::BTreeSet,
    io::{Read, Write},
    os::unix::fs::{OpenOptionsExt, PermissionsExt},
    path::Path,
};

/// The user whose password goes into the operators' URL (`admin-url`).
pub const ADMIN_VARIABLE: &str = "NATS_PASSWORD_PAYMSA_ADMIN";
pub const ADMIN_USER: &str = "paymsa-admin";

/// The `NATS_PASSWORD_<USER>` variables a config references, sorted, each once.
pub fn password_variables(config: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = config;
    while let Some(at) = rest.find("$NATS_PASSWORD_") {
        let tail = &rest[at + 1..];
        let end = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}

/// 24 random bytes as 48 hex digits.
pub fn random_password() -> std::io::Result<String> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `NAME=value` lines → pairs (other lines are skipped).
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
        .collect()
}

/// Adds a password for every variable of `variables` the file lacks; creates it with mode 600
/// (and narrows a wider mode). Returns the file's pairs.
pub fn ensure_file(
    file: &Path,
    variables: &BTreeSet<String>,
) -> std::io::Result<Vec<(String, String)>> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)?;
    out.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    let mut pairs = parse(&std::fs::read_to_string(file)?);
    for name in variables {
        if pairs.iter().all(|(have, _)| have != name) {
            let password = random_password()?;
            writeln!(out, "{name}={password}")?;
            pairs.push((name.clone(), password));
        }
    }
    Ok(pairs)
}

/// `url` with the operators' credentials in every server of the list.
pub fn with_admin(url: &str, password: &str) -> String {
    url.replace("nats://", &format!("nats://{ADMIN_USER}:{password}@"))
}
