//! The demo data of `seed/` in a test system's databases: seller 1 with wallet 1, products
//! 1/2/3 at 1000/2000/3000, and hot-catalog's copy of their details.

use service_kit::ServiceSpec;

use crate::TestSystem;

/// `seed/<service>.sql` of every service that has one.
const SEEDS: [(&str, &str); 4] = [
    (
        "catalog-service",
        include_str!("../../seed/catalog-service.sql"),
    ),
    (
        "hot-catalog-service",
        include_str!("../../seed/hot-catalog-service.sql"),
    ),
    (
        "seller-service",
        include_str!("../../seed/seller-service.sql"),
    ),
    (
        "wallet-service",
        include_str!("../../seed/wallet-service.sql"),
    ),
];

/// The seeds the money path needs: the seller, its wallet and its products (also in
/// hot-catalog's detail cache: the ranking shows only products the catalog announced).
pub const MONEY_PATH: [&ServiceSpec; 4] = [
    &catalog_service::SPEC,
    &hot_catalog_service::SPEC,
    &wallet_service::SPEC,
    &seller_service::SPEC,
];

/// Loads `seed/<service>.sql` into the database of each of `services`.
pub async fn load(system: &TestSystem, services: &[&ServiceSpec]) {
    for spec in services {
        let (_, sql) = SEEDS
            .iter()
            .find(|(name, _)| *name == spec.name)
            .unwrap_or_else(|| panic!("no seed/{}.sql", spec.name));
        let db = system.db(spec).await;
        sqlx::raw_sql(sql)
            .execute(&db)
            .await
            .unwrap_or_else(|e| panic!("seeding {}: {e}", spec.name));
        db.close().await;
    }
}

/// Starts the system with `overrides` (as [`TestSystem::start_with`]) and the
/// [`MONEY_PATH`] seeds loaded.
pub async fn start_seeded(overrides: &[(&str, &str)]) -> TestSystem {
    TestSystem::builder()
        .overrides(overrides.iter().copied())
        .seeded()
        .start()
        .await
}
