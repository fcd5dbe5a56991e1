//! `devtoken`: the local stack's development identity provider, and nothing more.
//!
//! - `devtoken keygen DIR` makes an Ed25519 key (`DIR/ed25519.pk8`) and its JWKS
//!   (`DIR/jwks.json`, what services read through `JWKS_FILE`) unless they exist.
//! - `devtoken sign DIR member 7 | seller 1 | admin` prints a token signed with that key, valid
//!   12 hours, with `iss`/`aud` from `JWT_ISSUER`/`JWT_AUDIENCE` when set.
//!
//! Never use it outside development: production tokens come from a real identity provider
//! whose keys services fetch from `JWKS_URL` (docs/identity.md).

use std::{path::Path, process::ExitCode};

use anyhow::{bail, Context};
use service_kit::auth_dev::{self, DevKey};

const KID: &str = "paymsa-dev";
const TTL_SECS: u64 = 12 * 3600;
const USAGE: &str = "usage: devtoken keygen DIR | devtoken sign DIR (member N | seller N | admin)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["keygen", dir] => keygen(Path::new(dir)),
        ["sign", dir, rest @ ..] => sign(Path::new(dir), rest),
        _ => Err(anyhow::anyhow!(USAGE)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // the whole chain: "…/ed25519.pk8: No such file or directory (os error 2)"
            eprintln!("devtoken: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn keygen(dir: &Path) -> anyhow::Result<()> {
    let key_file = dir.join("ed25519.pk8");
    let jwks_file = dir.join("jwks.json");
    if key_file.exists() && jwks_file.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    let key = DevKey::generate(KID)?;
    std::fs::write(&key_file, key.pkcs8()).with_context(|| key_file.display().to_string())?;
    std::fs::write(&jwks_file, key.jwks()).with_context(|| jwks_file.display().to_string())?;
    eprintln!("devtoken: dev key pair written to {}", dir.display());
    Ok(())
}

fn sign(dir: &Path, who: &[&str]) -> anyhow::Result<()> {
    let number = |n: &str| n.parse::<i64>().with_context(|| format!("{n:?}"));
    let claims = match who {
        ["member", n] => auth_dev::member(number(n)?),
        ["seller", n] => auth_dev::seller(number(n)?),
        ["admin"] => auth_dev::admin(),
        _ => bail!(USAGE),
    };
    let key_file = dir.join("ed25519.pk8");
    let der = std::fs::read(&key_file).with_context(|| {
        format!(
            "{} (run `just up` or `devtoken keygen` first)",
            key_file.display()
        )
    })?;
    let key = DevKey::from_pkcs8(&der, KID)?;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let token = key.sign(
        &claims,
        TTL_SECS,
        var("JWT_ISSUER").as_deref(),
        var("JWT_AUDIENCE").as_deref(),
    )?;
    println!("{token}");
    Ok(())
}
