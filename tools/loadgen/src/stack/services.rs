//! The processes of a stack: each service binary, its database, and which ones produce events.

/// A service binary and its database (`None` for a stateless one).
pub struct ServiceDef {
    pub name: &'static str,
    pub database: Option<&'static str>,
}

/// Start order: peers a service calls over HTTP come first.
pub const SERVICES: [ServiceDef; 9] = [
    ServiceDef {
        name: "psp-sandbox",
        database: Some("paymsa_psp"),
    },
    ServiceDef {
        name: "catalog-service",
        database: Some("paymsa_catalog"),
    },
    ServiceDef {
        name: "seller-service",
        database: Some("paymsa_seller"),
    },
    ServiceDef {
        name: "wallet-service",
        database: Some("paymsa_wallet"),
    },
    ServiceDef {
        name: "order-service",
        database: Some("paymsa_order"),
    },
    ServiceDef {
        name: "hot-catalog-service",
        database: Some("paymsa_hot_catalog"),
    },
    ServiceDef {
        name: "catalog-review-service",
        database: Some("paymsa_review"),
    },
    ServiceDef {
        name: "catalog-like-service",
        database: Some("paymsa_like"),
    },
    ServiceDef {
        name: "order-query-service",
        database: Some("paymsa_order_query"),
    },
];

pub const ADMIN_TOKEN: &str = "loadgen-admin-token";

/// Services with an outbox table (the producers of events).
pub const PRODUCERS: [&str; 6] = [
    "order-service",
    "wallet-service",
    "seller-service",
    "catalog-service",
    "catalog-like-service",
    "catalog-review-service",
];
