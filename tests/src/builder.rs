//! [`TestSystem::builder`]: which services a test starts, with which variables and seeds.
//!
//! A test of one consumer (settlement, the order-query projection) needs that service alone:
//! it publishes the events the other services would ([`crate::streams::Bus::publish`]), and
//! every service provisions all of the namespace's streams when it starts
//! (libs/messaging/src/provision.rs), so one is enough for the topology to exist.

use std::collections::HashMap;

use crate::{all_services, seed, TestSystem};

/// What [`TestSystem`] to start.
#[derive(Debug, Default)]
pub struct Builder {
    only: Option<Vec<&'static str>>,
    overrides: HashMap<String, String>,
    seeded: bool,
}

impl TestSystem {
    /// A system of every service, no overrides, no seeds, until told otherwise.
    pub fn builder() -> Builder {
        Builder::default()
    }
}

impl Builder {
    /// Starts only `services` (names as in [`all_services`], in its start order whatever the
    /// order here). Another service's `url`, `port_of` and `db` panic saying it was not
    /// started, and the started ones are given a refusing URL for it.
    pub fn only<'a>(mut self, services: impl IntoIterator<Item = &'a str>) -> Self {
        let known: Vec<&'static str> = all_services().iter().map(|(s, _)| s.name).collect();
        let wanted: Vec<&str> = services.into_iter().collect();
        for name in &wanted {
            assert!(
                known.contains(name),
                "no service {name:?}; there are {known:?}"
            );
        }
        self.only = Some(known.into_iter().filter(|n| wanted.contains(n)).collect());
        self
    }

    /// Variables that replace test defaults in every service (e.g. `NATS_URL`,
    /// `PSP_TIMEOUT_MS`, `DB_MAX_CONNECTIONS`).
    pub fn overrides<K, V>(mut self, overrides: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.overrides
            .extend(overrides.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Loads the demo data ([`seed::MONEY_PATH`]) into the started services that have some.
    pub fn seeded(mut self) -> Self {
        self.seeded = true;
        self
    }

    /// Starts the services, peers a service calls before it.
    pub async fn start(self) -> TestSystem {
        let services = all_services();
        let names = self
            .only
            .unwrap_or_else(|| services.iter().map(|(s, _)| s.name).collect());
        let mut system = TestSystem::empty(names, self.overrides);
        for (spec, build) in services {
            if system.services.contains(&spec.name) {
                system.start_service(spec, build).await;
            }
        }
        if self.seeded {
            let seeds: Vec<_> = seed::MONEY_PATH
                .into_iter()
                .filter(|spec| system.services.contains(&spec.name))
                .collect();
            seed::load(&system, &seeds).await;
        }
        system
    }
}
