//! The service's own Postgres database: created when missing, migrated at start.
//!
//! A service's database is migrated by several sqlx migrators in a row: those of the libraries
//! whose tables or functions it uses ([`MIGRATOR`] here, `outbox::MIGRATOR`,
//! `messaging::MIGRATOR`), then its own (`migrations/<service>`); the service lists them in its
//! lib.rs. Each library's DDL is written once, in its own `migrations/` folder. All of them record
//! what they applied in the one `_sqlx_migrations` table (sqlx 0.8 has no other), so versions
//! never collide: a service's are timestamps, a library's small numbers (service-kit 1xx,
//! outbox 2xx, messaging 3xx). [`migrate`] runs each with `ignore_missing`, so no migrator takes
//! the others' rows, nor those of the per-service copies the libraries' files replaced, for
//! migrations it lost.

use std::time::Duration;

use sqlx::{
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    ConnectOptions, Connection, PgConnection, PgPool, Postgres, Transaction,
};
use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL: cannot reach Postgres at {target}: {source}")]
    Connect { target: String, source: sqlx::Error },
    #[error("creating database {name}: {source}")]
    Create { name: String, source: sqlx::Error },
    #[error("running migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

fn database_name(url: &Url) -> String {
    url.path().trim_start_matches('/').to_string()
}

/// Where a failed connection was aimed, without the password.
fn describe(url: &Url) -> String {
    format!(
        "{}:{}/{}",
        url.host_str().unwrap_or("?"),
        url.port().unwrap_or(5432),
        database_name(url)
    )
}

/// Creates the database named in `url` if it does not exist yet. Concurrent starters race
/// safely: losing the race (duplicate database) counts as success.
pub async fn ensure_database(url: &Url) -> Result<(), DbError> {
    let name = database_name(url);
    let mut admin_url = url.clone();
    admin_url.set_path("/postgres");
    let options: PgConnectOptions =
        admin_url
            .as_str()
            .parse()
            .map_err(|source| DbError::Connect {
                target: describe(url),
                source,
            })?;
    let mut conn = options.connect().await.map_err(|source| DbError::Connect {
        target: describe(url),
        source,
    })?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .map_err(|source| DbError::Create {
                name: name.clone(),
                source,
            })?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        if let Err(source) = sqlx::query(&format!("create database {quoted}"))
            .execute(&mut conn)
            .await
        {
            let code = source
                .as_database_error()
                .and_then(|e| e.code())
                .map(|c| c.to_string());
            // 42P04 duplicate_database, 23505 when two creates collide in pg_database.
            if !matches!(code.as_deref(), Some("42P04" | "23505")) {
                return Err(DbError::Create { name, source });
            }
        }
    }
    let _ = conn.close().await;
    Ok(())
}

/// The `updated_at` trigger helpers (`libs/service-kit/migrations`): `set_updated_at()` and
/// `trigger_updated_at(table)`, which a service's own migrations call for its tables.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Applies `migrators` in order, each ignoring the versions the others recorded (see the
/// module documentation).
pub async fn migrate(pool: &PgPool, migrators: &[&Migrator]) -> Result<(), DbError> {
    for migrator in migrators {
        // A copy (the migrations borrowed, not cloned) with `ignore_missing` set, built the way
        // sqlx's own `migrate!` builds one: the statics stay plain `sqlx::migrate!(…)`.
        let shared = Migrator {
            migrations: migrator.migrations.clone(),
            ignore_missing: true,
            locking: migrator.locking,
            no_tx: migrator.no_tx,
        };
        shared.run(pool).await?;
    }
    Ok(())
}

/// Creates the database if needed, opens a pool and applies `migrators` ([`migrate`]).
pub async fn connect_and_migrate(
    url: &Url,
    max_connections: u32,
    migrators: &[&Migrator],
) -> Result<PgPool, DbError> {
    ensure_database(url).await?;
    let options: PgConnectOptions = url.as_str().parse().map_err(|source| DbError::Connect {
        target: describe(url),
        source,
    })?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|source| DbError::Connect {
            target: describe(url),
            source,
        })?;
    migrate(&pool, migrators).await?;
    Ok(pool)
}

/// Drops a database (tests clean up their per-test databases with it).
pub async fn drop_database(url: &Url) -> Result<(), sqlx::Error> {
    let mut admin_url = url.clone();
    admin_url.set_path("/postgres");
    let mut conn = PgConnection::connect(admin_url.as_str()).await?;
    let name = database_name(url).replace('"', "\"\"");
    sqlx::query(&format!("drop database if exists \"{name}\" with (force)"))
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// A read-only transaction over one snapshot (`repeatable read`): a view read in several
/// statements — a payment's lines, history and cancels; a statement's opening, entries and
/// closing — is of one moment, however many commits land between the statements.
pub async fn snapshot(pool: &PgPool) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
