//! The NATS users of a stack (docs/identity.md, "The bus"): the permission table of
//! libs/messaging/src/access.rs rendered for the run's namespace, with a random password per
//! user, as scripts/nats.sh makes them for `just up`. Each service process connects as its
//! own user (`NATS_USER`/`NATS_PASSWORD`); the tool's own clients (stream and consumer checks,
//! poison events) as the operators' `paymsa-admin`.

use std::collections::HashMap;

use events::Topology;
use messaging::access;
use service_kit::nats_auth::NatsCredentials;

pub struct BusUsers {
    passwords: HashMap<String, String>,
    config: String,
}

impl BusUsers {
    /// Fresh passwords for [`access::ADMIN_USER`] and every service of the table, and the
    /// `authorization {}` block for a server whose streams carry `namespace`.
    pub fn generate(namespace: &str) -> Self {
        let users = access::SERVICES
            .iter()
            .map(|s| s.service)
            .chain([access::ADMIN_USER]);
        // 244 random bits (two v4 UUIDs) in hex: nothing to escape in the config.
        let passwords: HashMap<String, String> = users
            .map(|user| {
                let password = format!(
                    "{}{}",
                    uuid::Uuid::new_v4().simple(),
                    uuid::Uuid::new_v4().simple()
                );
                (user.to_string(), password)
            })
            .collect();
        let config = access::authorization_config(&Topology::new(namespace), |user| {
            let password = passwords.get(user).map_or("", String::as_str);
            serde_json::Value::from(password).to_string()
        });
        Self { passwords, config }
    }

    /// The block to append to nats-server's config.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// `user`'s credentials, if the table has that user (psp-sandbox has none: no NATS).
    pub fn credentials(&self, user: &str) -> Option<NatsCredentials> {
        self.passwords.get(user).map(|password| NatsCredentials {
            user: user.to_string(),
            password: password.clone(),
        })
    }

    /// The operators' user, which the tool's own connections use.
    pub fn admin(&self) -> NatsCredentials {
        self.credentials(access::ADMIN_USER)
            .unwrap_or_else(|| NatsCredentials {
                user: access::ADMIN_USER.into(),
                password: String::new(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_gets_its_own_password_in_the_config() {
        let users = BusUsers::generate("lgtest");
        let order = users.credentials("order-service").expect("in the table");
        let like = users
            .credentials("catalog-like-service")
            .expect("in the table");
        assert_ne!(order.password, like.password);
        assert!(users.config().contains(&order.password));
        assert!(users.config().contains("lgtest.order.>"));
        assert!(users.credentials("psp-sandbox").is_none());
        assert_eq!(users.admin().user, "paymsa-admin");
    }
}
