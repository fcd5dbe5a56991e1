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

    pub async fn drop(self) {
        self.pool.close().await;
        service_kit::db::drop_database(&self.url).await.ok();
    }
}
