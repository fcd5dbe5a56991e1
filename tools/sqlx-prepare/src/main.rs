//! The `.sqlx/` query caches: `just sqlx-prepare` refreshes them, `just lint` runs this with
//! `--check` and fails when a committed cache differs from what the queries give today.
//!
//! The `sqlx::query!` family checks each query at compile time. Builds read the committed
//! caches (.cargo/config.toml sets `SQLX_OFFLINE=true`), so no build needs a database. This
//! tool does what `cargo sqlx prepare` does, without installing sqlx-cli: built online
//! (`DATABASE_URL` set, `SQLX_OFFLINE=false`) with `SQLX_OFFLINE_DIR` set, the macros describe
//! each query against the database and write `query-<hash>.json` into that directory
//! (`expand_with_data` in sqlx-macros-core 0.8, src/query/mod.rs). Per crate, in dependency
//! order:
//! 1. a scratch database migrated with the crate's migrations: a library's own directory
//!    (libs/outbox/migrations), a service's as its `SCHEMA` lists them (the libraries'
//!    directories, then migrations/<service>);
//! 2. `cargo check -p <crate> --lib` online, to bring the crate and its dependencies up to
//!    date without writing anything;
//! 3. the same again with a fresh `SQLX_OFFLINE_DIR` and the crate's lib.rs given a new mtime:
//!    cargo does not watch the variables the macros read, so only a recompile runs them, and
//!    step 2 made sure only this crate recompiles (a dependency's queries would otherwise land
//!    in this crate's cache). The old mtime is put back afterwards, so other builds stay fresh;
//! 4. the result replaces (or, with `--check`, is compared with) `<crate>/.sqlx/`; the scratch
//!    database is dropped.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::SystemTime,
};

use anyhow::{bail, Context, Result};
use sqlx::{migrate::Migrator, Connection, PgConnection, PgPool};

/// A crate whose queries are checked: its package, directory and the migration directories
/// that create its tables, in the order its `SCHEMA` applies them (messaging::Schema) (the `sqlx::migrate!`
/// paths). Dependencies first (outbox and messaging before the services using them).
struct CheckedCrate {
    package: &'static str,
    dir: &'static str,
    migrations: &'static [&'static str],
}

const UPDATED_AT: &str = "libs/service-kit/migrations";
const OUTBOX: &str = "libs/outbox/migrations";
const MESSAGING: &str = "libs/messaging/migrations";

const CRATES: &[CheckedCrate] = &[
    CheckedCrate {
        package: "outbox",
        dir: "libs/outbox",
        migrations: &[OUTBOX],
    },
    CheckedCrate {
        package: "messaging",
        dir: "libs/messaging",
        migrations: &[MESSAGING],
    },
    CheckedCrate {
        package: "order-service",
        dir: "services/order-service",
        migrations: &[UPDATED_AT, OUTBOX, MESSAGING, "migrations/order-service"],
    },
    CheckedCrate {
        package: "wallet-service",
        dir: "services/wallet-service",
        migrations: &[UPDATED_AT, OUTBOX, MESSAGING, "migrations/wallet-service"],
    },
    CheckedCrate {
        package: "order-query-service",
        dir: "services/order-query-service",
        migrations: &[UPDATED_AT, MESSAGING, "migrations/order-query-service"],
    },
    CheckedCrate {
        package: "psp-sandbox",
        dir: "services/psp-sandbox",
        migrations: &["migrations/psp-sandbox"],
    },
];

/// The Postgres server (no database in the URL), as the tests take it (scripts/lib.sh).
const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => {
            eprintln!("usage: sqlx-prepare [--check]   (unknown argument {other:?})");
            return ExitCode::from(2);
        }
    };
    match run(check).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(false)`: `--check` found a stale cache.
async fn run(check: bool) -> Result<bool> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()?;
    let server = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_SERVER_URL.into());
    let scratch = std::env::temp_dir().join(format!("sqlx-prepare-{}", std::process::id()));
    let mut fresh = true;
    for krate in CRATES {
        let generated = scratch.join(krate.package);
        fs::create_dir_all(&generated).with_context(|| format!("creating {generated:?}"))?;
        let database = ScratchDatabase::create(&server, krate.package).await?;
        let built = async {
            for migrations in krate.migrations {
                database.migrate(&root.join(migrations)).await?;
            }
            generate(&root, krate, &database.url, &generated)
        }
        .await;
        database.remove().await?;
        built?;
        let committed = root.join(krate.dir).join(".sqlx");
        if check {
            fresh &= compare(krate.package, &committed, &generated)?;
        } else {
            replace(&committed, &generated)?;
            eprintln!("{}: {committed:?} refreshed", krate.package);
        }
    }
    fs::remove_dir_all(&scratch).with_context(|| format!("removing {scratch:?}"))?;
    if !fresh {
        eprintln!(
            "the committed query caches are stale: run `just sqlx-prepare` and commit .sqlx/"
        );
    }
    Ok(fresh)
}

/// Steps 2 and 3 of the module comment: the crate's query files in `out`.
fn generate(root: &Path, krate: &CheckedCrate, database_url: &str, out: &Path) -> Result<()> {
    cargo_check(root, krate.package, database_url, None)?;
    let lib = root.join(krate.dir).join("src/lib.rs");
    let _touched = Touched::now(&lib)?;
    cargo_check(root, krate.package, database_url, Some(out))
}

fn cargo_check(root: &Path, package: &str, database_url: &str, out: Option<&Path>) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["check", "--quiet", "--lib", "-p", package])
        .env("DATABASE_URL", database_url)
        .env("SQLX_OFFLINE", "false")
        .env_remove("SQLX_OFFLINE_DIR");
    // What `cargo run` set for this binary is not the build's: a build script watching one
    // (ring's watches CARGO_MANIFEST_DIR) would rerun and dirty every crate above it.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
            ]
            .contains(&name.as_ref())
        {
            command.env_remove(name.as_ref());
        }
    }
    if let Some(out) = out {
        command.env("SQLX_OFFLINE_DIR", out);
    }
    let status = command.status().context("running cargo")?;
    if !status.success() {
        bail!("`cargo check -p {package}` against the scratch database failed ({status})");
    }
    Ok(())
}

/// A file given the current time as its mtime; the old one comes back on drop.
struct Touched {
    file: fs::File,
    path: PathBuf,
    modified: SystemTime,
}

impl Touched {
    fn now(path: &Path) -> Result<Self> {
        let file = fs::File::options()
            .write(true)
            .open(path)
            .with_context(|| format!("opening {path:?}"))?;
        let modified = file.metadata()?.modified()?;
        file.set_modified(SystemTime::now())
            .with_context(|| format!("touching {path:?}"))?;
        Ok(Self {
            file,
            path: path.to_owned(),
            modified,
        })
    }
}

impl Drop for Touched {
    fn drop(&mut self) {
        if let Err(e) = self.file.set_modified(self.modified) {
            eprintln!(
                "warning: could not restore the mtime of {:?}: {e}",
                self.path
            );
        }
    }
}

struct ScratchDatabase {
    server: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    async fn create(server: &str, package: &str) -> Result<Self> {
        let name = format!(
            "sqlx_prepare_{}_{}",
            package.replace('-', "_"),
            std::process::id()
        );
        let mut admin = admin(server).await?;
        for statement in [
            format!("drop database if exists {name}"),
            format!("create database {name}"),
        ] {
            sqlx::raw_sql(&statement)
                .execute(&mut admin)
                .await
                .with_context(|| format!("creating database {name}"))?;
        }
        Ok(Self {
            server: server.to_owned(),
            url: format!("{server}/{name}"),
            name,
        })
    }

    async fn migrate(&self, migrations: &Path) -> Result<()> {
        let pool = PgPool::connect(&self.url).await?;
        let mut migrator = Migrator::new(migrations)
            .await
            .with_context(|| format!("reading {migrations:?}"))?;
        // The directories share `_sqlx_migrations` (libs/service-kit/src/db.rs).
        migrator.set_ignore_missing(true);
        migrator
            .run(&pool)
            .await
            .with_context(|| format!("applying {migrations:?}"))?;
        pool.close().await;
        Ok(())
    }

    async fn remove(self) -> Result<()> {
        let mut admin = admin(&self.server).await?;
        sqlx::raw_sql(&format!(
            "drop database if exists {} with (force)",
            self.name
        ))
        .execute(&mut admin)
        .await
        .with_context(|| format!("dropping database {}", self.name))?;
        Ok(())
    }
}

async fn admin(server: &str) -> Result<PgConnection> {
    PgConnection::connect(&format!("{server}/postgres"))
        .await
        .with_context(|| format!("connecting to {server} (set TEST_DATABASE_URL)"))
}

/// The query files of a cache directory, by name (none when it does not exist).
fn read_cache(dir: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut files = BTreeMap::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e).with_context(|| format!("reading {dir:?}")),
    };
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        files.insert(
            name,
            fs::read(&path).with_context(|| format!("reading {path:?}"))?,
        );
    }
    Ok(files)
}

/// `true` when the committed cache equals the generated one; prints the differences.
fn compare(package: &str, committed: &Path, generated: &Path) -> Result<bool> {
    let old = read_cache(committed)?;
    let new = read_cache(generated)?;
    let mut same = true;
    for (name, content) in &new {
        match old.get(name) {
            None => eprintln!("{package}: {name} missing from {committed:?}"),
            Some(c) if c != content => eprintln!("{package}: {name} differs"),
            Some(_) => continue,
        }
        same = false;
    }
    for name in old.keys().filter(|n| !new.contains_key(*n)) {
        eprintln!("{package}: {name} no longer used (no query has that hash)");
        same = false;
    }
    if same {
        eprintln!("{package}: {} queries, cache up to date", new.len());
    }
    Ok(same)
}

fn replace(committed: &Path, generated: &Path) -> Result<()> {
    if committed.exists() {
        fs::remove_dir_all(committed).with_context(|| format!("removing {committed:?}"))?;
    }
    fs::create_dir_all(committed)?;
    for (name, content) in read_cache(generated)? {
        let path = committed.join(name);
        fs::write(&path, content).with_context(|| format!("writing {path:?}"))?;
    }
    Ok(())
}
