//! Streams and subjects in one place. A namespace prefixes both, so parallel tests (and
//! several environments on one server) never share a stream or overlap subjects.

/// A producing service's stream and the subjects it captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamDef {
    pub name: &'static str,
    /// Subject filter without namespace, e.g. `order.>`.
    pub subjects: &'static str,
}

pub const ORDERS: StreamDef = StreamDef {
    name: "ORDERS",
    subjects: "order.>",
};
pub const WALLETS: StreamDef = StreamDef {
    name: "WALLETS",
    subjects: "wallet.>",
};
pub const SELLERS: StreamDef = StreamDef {
    name: "SELLERS",
    subjects: "seller.>",
};
pub const CATALOG: StreamDef = StreamDef {
    name: "CATALOG",
    subjects: "catalog.>",
};
pub const LIKES: StreamDef = StreamDef {
    name: "LIKES",
    subjects: "like.>",
};
pub const REVIEWS: StreamDef = StreamDef {
    name: "REVIEWS",
    subjects: "review.>",
};

pub const BUSINESS_STREAMS: [StreamDef; 6] = [ORDERS, WALLETS, SELLERS, CATALOG, LIKES, REVIEWS];

/// Name of the stream that keeps dead-letter advisories.
pub const DLQ_STREAM: &str = "DLQ";

/// Names as deployed: `namespace` empty in production, unique per test.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topology {
    namespace: String,
}

impl Topology {
    /// `namespace` must be a NATS-token-safe word (letters, digits, `_`, `-`), or empty.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn stream_name(&self, stream: &StreamDef) -> String {
        self.prefixed_stream(stream.name)
    }

    pub fn dlq_stream(&self) -> String {
        self.prefixed_stream(DLQ_STREAM)
    }

    fn prefixed_stream(&self, name: &str) -> String {
        if self.namespace.is_empty() {
            name.to_string()
        } else {
            format!(
                "{}_{}",
                self.namespace.to_uppercase().replace('-', "_"),
                name
            )
        }
    }

    /// The deployed subject for an event type or filter, e.g. `order.payment.confirmed`.
    pub fn subject(&self, subject: &str) -> String {
        if self.namespace.is_empty() {
            subject.to_string()
        } else {
            format!("{}.{}", self.namespace, subject)
        }
    }

    /// Strips the namespace from a deployed subject (used when replaying dead letters).
    pub fn unqualified<'a>(&self, subject: &'a str) -> &'a str {
        if self.namespace.is_empty() {
            return subject;
        }
        subject
            .strip_prefix(self.namespace.as_str())
            .and_then(|s| s.strip_prefix('.'))
            .unwrap_or(subject)
    }

    /// The DLQ stream's subjects: the max-deliveries and terminated advisories of our streams.
    pub fn dlq_subjects(&self) -> Vec<String> {
        BUSINESS_STREAMS
            .iter()
            .flat_map(|s| {
                let name = self.stream_name(s);
                [
                    format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{name}.*"),
                    format!("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.{name}.*"),
                ]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_namespace_keeps_design_names() {
        let t = Topology::default();
        assert_eq!(t.stream_name(&ORDERS), "ORDERS");
        assert_eq!(
            t.subject("order.payment.confirmed"),
            "order.payment.confirmed"
        );
    }

    #[test]
    fn a_namespace_prefixes_streams_and_subjects() {
        let t = Topology::new("t42");
        assert_eq!(t.stream_name(&ORDERS), "T42_ORDERS");
        assert_eq!(t.dlq_stream(), "T42_DLQ");
        assert_eq!(t.subject("order.>"), "t42.order.>");
        assert_eq!(
            t.unqualified("t42.order.payment.confirmed"),
            "order.payment.confirmed"
        );
        assert!(t.dlq_subjects()[0].ends_with("MAX_DELIVERIES.T42_ORDERS.*"));
    }
}
