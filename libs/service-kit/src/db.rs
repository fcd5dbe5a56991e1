//! The service's own Postgres database: created when missing, migrated at start.

use std::time::Duration;

use sqlx::{
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
    ConnectOptions, Connection, PgConnection, PgPool,
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

/// Creates the database if needed, opens a pool and applies the service's migrations.
pub async fn connect_and_migrate(
    url: &Url,
    max_connections: u32,
    migrator: &Migrator,
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
    migrator.run(&pool).await?;
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
