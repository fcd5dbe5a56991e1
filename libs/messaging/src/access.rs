//! Who may do what on the bus (docs/identity.md, "The bus"): one NATS user per service, allowed
//! to publish its own events and the JetStream API calls its streams and durables need, and to
//! subscribe to its own reply inbox only. This table is the one source of the permissions: the
//! `nats-access` example renders it into deploy/nats/auth.conf (used by scripts/nats.sh,
//! compose.yaml and deploy/k8s), and tests/bus_access.rs runs a server with it.
//!
//! Consumers here must match each service's `ConsumerSpec`s (services/*/src/lib.rs and
//! hot-catalog-service/src/consumers.rs); [`crate::EventBus::consume`] warns at start when a
//! durable is missing, because the server would then refuse to create it.

use events::{
    topology::{CATALOG, LIKES, ORDERS, REVIEWS, SELLERS, WALLETS},
    StreamDef, Topology,
};

/// What one service does on the bus.
#[derive(Debug, Clone, Copy)]
pub struct ServiceAccess {
    /// The NATS user name, the service's name (`ServiceSpec::name`).
    pub service: &'static str,
    /// The stream whose subjects only this service publishes (its outbox relay).
    pub publishes: Option<StreamDef>,
    /// Its durable pull consumers: (durable, stream).
    pub consumers: &'static [(&'static str, StreamDef)],
}

/// Every service that connects to NATS (psp-sandbox does not).
pub const SERVICES: [ServiceAccess; 8] = [
    ServiceAccess {
        service: "order-service",
        publishes: Some(ORDERS),
        consumers: &[
            ("order-wallet-completion", WALLETS),
            ("order-catalog-prices", CATALOG),
        ],
    },
    ServiceAccess {
        service: "wallet-service",
        publishes: Some(WALLETS),
        consumers: &[
            ("wallet-onboarding", SELLERS),
            ("wallet-settlement", ORDERS),
            ("wallet-reversal", ORDERS),
        ],
    },
    ServiceAccess {
        service: "seller-service",
        publishes: Some(SELLERS),
        consumers: &[("seller-activation", WALLETS)],
    },
    ServiceAccess {
        service: "catalog-service",
        publishes: Some(CATALOG),
        consumers: &[("catalog-active-sellers", SELLERS)],
    },
    ServiceAccess {
        service: "catalog-like-service",
        publishes: Some(LIKES),
        consumers: &[],
    },
    ServiceAccess {
        service: "catalog-review-service",
        publishes: Some(REVIEWS),
        consumers: &[("review-purchases", ORDERS), ("review-refunds", ORDERS)],
    },
    ServiceAccess {
        service: "order-query-service",
        publishes: None,
        consumers: &[
            ("order-query-projection", ORDERS),
            ("order-query-wallet", WALLETS),
        ],
    },
    ServiceAccess {
        service: "hot-catalog-service",
        publishes: None,
        consumers: &[
            ("hot-catalog-likes", LIKES),
            ("hot-catalog-reviews", REVIEWS),
            ("hot-catalog-orders", ORDERS),
            ("hot-catalog-products", CATALOG),
        ],
    },
];

/// The operators' user (`just streams`, loadgen, nats-box, the test harness on a stack with
/// auth): every subject, no permissions block.
pub const ADMIN_USER: &str = "paymsa-admin";

/// The table entry of `service`, if it uses NATS.
pub fn service(service: &str) -> Option<&'static ServiceAccess> {
    SERVICES.iter().find(|s| s.service == service)
}

pub use service_kit::nats_auth::inbox_prefix;

/// The environment variable holding `user`'s password, e.g. `NATS_PASSWORD_ORDER_SERVICE`
/// (nats-server reads it when the config says `password: $NATS_PASSWORD_ORDER_SERVICE`).
pub fn password_env(user: &str) -> String {
    let upper: String = user
        .chars()
        .map(|c| match c {
            'a'..='z' => c.to_ascii_uppercase(),
            'A'..='Z' | '0'..='9' => c,
            _ => '_',
        })
        .collect();
    format!("NATS_PASSWORD_{upper}")
}

/// A user's allowed subjects; everything else is denied by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Vec<String>,
    pub subscribe: Vec<String>,
}

impl ServiceAccess {
    /// The durables of this service including its dead-letter worker's (`{service}-dead-letters`
    /// on the DLQ stream, named in dead_letters/worker.rs), with deployed stream names.
    fn durables(&self, topology: &Topology) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self
            .consumers
            .iter()
            .map(|(durable, stream)| (durable.to_string(), topology.stream_name(stream)))
            .collect();
        if !self.consumers.is_empty() {
            all.push((
                format!("{}-dead-letters", self.service),
                topology.dlq_stream(),
            ));
        }
        all
    }

    /// The subjects this service may publish and subscribe to on a server deployed with
    /// `topology`.
    pub fn permissions(&self, topology: &Topology) -> Permissions {
        let api = "$JS.API";
        let mut publish: Vec<String> = self
            .publishes
            .iter()
            .map(|stream| topology.subject(stream.subjects))
            .collect();
        publish.push(format!("{api}.INFO"));
        // Every service provisions every stream at start (provision.rs: whoever starts first
        // creates them, consumers need their stream to exist), so each may create, update and
        // look up all seven; it may not delete or purge any.
        let streams = events::topology::BUSINESS_STREAMS
            .iter()
            .map(|s| topology.stream_name(s))
            .chain([topology.dlq_stream()]);
        for stream in streams {
            for op in ["CREATE", "UPDATE", "INFO"] {
                publish.push(format!("{api}.STREAM.{op}.{stream}"));
            }
        }
        // The dead-letter worker reads a dead message back from the stream its consumer reads.
        let mut read: Vec<String> = self
            .consumers
            .iter()
            .map(|(_, s)| topology.stream_name(s))
            .collect();
        read.sort();
        read.dedup();
        for stream in read {
            publish.push(format!("{api}.STREAM.MSG.GET.{stream}"));
            publish.push(format!("{api}.DIRECT.GET.{stream}"));
            publish.push(format!("{api}.DIRECT.GET.{stream}.>"));
        }
        // Its own durables only: create (async-nats adds the filter as a last token when
        // there is one), info (pending gauges), pull, delete (order-query-service's rebuild),
        // and acks, which go to the delivered message's `$JS.ACK.<stream>.<durable>.…` reply.
        for (durable, stream) in self.durables(topology) {
            let on = format!("{stream}.{durable}");
            publish.extend([
                format!("{api}.CONSUMER.CREATE.{on}"),
                format!("{api}.CONSUMER.CREATE.{on}.>"),
                format!("{api}.CONSUMER.DURABLE.CREATE.{on}"),
                format!("{api}.CONSUMER.INFO.{on}"),
                format!("{api}.CONSUMER.DELETE.{on}"),
                format!("{api}.CONSUMER.MSG.NEXT.{on}"),
                format!("$JS.ACK.{on}.>"),
            ]);
        }
        Permissions {
            publish,
            subscribe: vec![format!("{}.>", inbox_prefix(self.service))],
        }
    }
}

/// The `authorization { users = [...] }` block for `topology`: [`ADMIN_USER`] and every
/// service of [`SERVICES`]. `password(user)` returns the config token for the password, e.g.
/// `$NATS_PASSWORD_ORDER_SERVICE` (an environment reference; what deploy/nats/auth.conf holds)
/// or a quoted literal (tests).
pub fn authorization_config(topology: &Topology, password: impl Fn(&str) -> String) -> String {
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let list = |subjects: &[String]| {
        let items: Vec<String> = subjects
            .iter()
            .map(|s| format!("          {}", quote(s)))
            .collect();
        format!("[\n{}\n        ]", items.join("\n"))
    };
    let mut out = String::from("authorization {\n  users = [\n");
    out.push_str(&format!(
        "    {{ user: {}, password: {} }}\n",
        quote(ADMIN_USER),
        password(ADMIN_USER)
    ));
    for access in SERVICES {
        let p = access.permissions(topology);
        out.push_str(&format!(
            "    {{\n      user: {}, password: {}\n      permissions: {{\n        \
             publish: {{ allow: {} }}\n        subscribe: {{ allow: {} }}\n      }}\n    }}\n",
            quote(access.service),
            password(access.service),
            list(&p.publish),
            list(&p.subscribe),
        ));
    }
    out.push_str("  ]\n}\n");
    out
}

/// [`authorization_config`] for production names with environment references for passwords:
/// the content of deploy/nats/auth.conf.
pub fn deployed_authorization_config() -> String {
    let header = "# Generated by `cargo run -p messaging --example nats-access` from \
                  libs/messaging/src/access.rs;\n# do not edit. Passwords come from the \
                  environment of nats-server (NATS_PASSWORD_<USER>).\n";
    format!(
        "{header}{}",
        authorization_config(&Topology::default(), |user| format!(
            "${}",
            password_env(user)
        ))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_producer_publishes_its_events() {
        let t = Topology::default();
        for access in SERVICES {
            let p = access.permissions(&t);
            for stream in events::topology::BUSINESS_STREAMS {
                let owns = access.publishes == Some(stream);
                assert_eq!(p.publish.contains(&stream.subjects.to_string()), owns);
            }
            assert!(!p.publish.iter().any(|s| s == ">" || s == "$JS.API.>"));
            assert_eq!(p.subscribe, vec![format!("_INBOX_{}.>", access.service)]);
        }
    }

    #[test]
    fn names_follow_the_topology() {
        let t = Topology::new("t1");
        let p = service("wallet-service").expect("listed").permissions(&t);
        assert!(p.publish.contains(&"t1.wallet.>".to_string()));
        assert!(p
            .publish
            .contains(&"$JS.ACK.T1_ORDERS.wallet-settlement.>".to_string()));
        assert!(p
            .publish
            .contains(&"$JS.API.CONSUMER.MSG.NEXT.T1_DLQ.wallet-service-dead-letters".to_string()));
        assert_eq!(password_env("order-service"), "NATS_PASSWORD_ORDER_SERVICE");
    }
}
