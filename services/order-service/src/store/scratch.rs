//! A scratch database for the store's own tests: a new database of the tests' Postgres,
//! migrated as the service's, as the service tests get theirs.

use sqlx::PgPool;
use url::Url;

pub(crate) struct ScratchDb {
    pub pool: PgPool,
    url: Url,
}

impl ScratchDb {
    pub async fn new(connections: u32) -> Self {
        let namespace = service_kit::testing::unique_namespace();
        let config = service_kit::testing::test_config(&crate::SPEC, &namespace);
        let url = config.database_url.expect("order-service has a database");
        let pool =
            service_kit::db::connect_and_migrate(&url, connections, &crate::SCHEMA.migrators())
                .await
                .expect("scratch database");
        Self { pool, url }
    }

    /// Waits until a session of this scratch database waits for a lock (another test's lock
    /// waits, in their own databases, must not end the wait early); `what` names the waiter.
    pub async fn until_blocked(&self, what: &str) {
        let mut waits = 0;
        while sqlx::query_scalar::<_, i64>(
            "select count(*) from pg_stat_activity
              where datname = current_database() and cardinality(pg_blocking_pids(pid)) > 0",
        )
        .fetch_one(&self.pool)
        .await
        .expect("locks")
            == 0
        {
            waits += 1;
            assert!(waits < 500, "{what} never waited for the lock");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    pub async fn drop(self) {
        self.pool.close().await;
        service_kit::db::drop_database(&self.url).await.ok();
    }
}
