//! The processes of a stack: each service binary with its database (rows of
//! deploy/services.table, through service_kit::stack_table), in the order they start, and which
//! ones produce and consume events (messaging::access, the bus's own table).

use messaging::access;
use service_kit::stack_table::{row, ServiceRow};

/// Every service, in start order: peers a service calls over HTTP come first. The position
/// also numbers the instances' snowflake node ids (`100 + 10 × position + instance`, mod.rs).
pub const SERVICES: [ServiceRow; 9] = [
    row("psp-sandbox"),
    row("catalog-service"),
    row("seller-service"),
    row("wallet-service"),
    row("order-service"),
    row("hot-catalog-service"),
    row("catalog-review-service"),
    row("catalog-like-service"),
    row("order-query-service"),
];

pub const ADMIN_TOKEN: &str = "loadgen-admin-token";

/// Services with an outbox table (the producers of events): those publishing a stream.
pub fn producers() -> impl Iterator<Item = &'static str> {
    access::SERVICES
        .iter()
        .filter(|s| s.publishes.is_some())
        .map(|s| s.service)
}

/// Services that consume events and so keep dead letters.
pub fn consumers() -> impl Iterator<Item = &'static str> {
    access::SERVICES
        .iter()
        .filter(|s| !s.consumers.is_empty())
        .map(|s| s.service)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_starts_every_service_of_the_table_once() {
        let mut started: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
        let mut table: Vec<&str> = service_kit::stack_table::SERVICES
            .iter()
            .map(|s| s.name)
            .collect();
        started.sort_unstable();
        table.sort_unstable();
        assert_eq!(started, table);
    }

    #[test]
    fn producers_and_consumers_are_services_with_a_database() {
        for name in producers().chain(consumers()) {
            let row = service_kit::stack_table::get(name)
                .unwrap_or_else(|| panic!("{name} is not in deploy/services.table"));
            assert!(row.database.is_some(), "{name} has no database");
        }
        // What the loadgen listed by hand before (outboxes; dead-letter tables).
        assert_eq!(producers().count(), 6);
        assert_eq!(consumers().count(), 7);
    }
}
