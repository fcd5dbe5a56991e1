//! provision(): idempotent and safe to race.

use async_nats::jetstream::stream::{Config, RetentionPolicy, StorageType};
use events::{topology::BUSINESS_STREAMS, Topology};
use std::time::Duration;

async fn configs(js: &async_nats::jetstream::Context, topology: &Topology) -> Vec<Config> {
    let mut names: Vec<String> = BUSINESS_STREAMS
        .iter()
        .map(|s| topology.stream_name(s))
        .collect();
    names.push(topology.dlq_stream());
    let mut out = Vec::new();
    for name in names {
        let mut stream = js.get_stream(&name).await.expect("stream exists");
        out.push(stream.info().await.expect("info").config.clone());
    }
    out
}

#[tokio::test]
async fn provisioning_twice_and_concurrently_succeeds_with_the_same_configuration() {
    let url = std::env::var("TEST_NATS_URL").expect("TEST_NATS_URL");
    let client = async_nats::connect(url).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let topology = Topology::new(service_kit::testing::unique_namespace());

    let racing =
        futures::future::join_all((0..4).map(|_| messaging::provision(&js, &topology))).await;
    for result in racing {
        result.expect("concurrent provision succeeds");
    }
    let first = configs(&js, &topology).await;
    messaging::provision(&js, &topology)
        .await
        .expect("second provision");
    assert_eq!(
        configs(&js, &topology).await,
        first,
        "unchanged by a second run"
    );

    let (business, dlq) = first.split_at(BUSINESS_STREAMS.len());
    for (config, def) in business.iter().zip(BUSINESS_STREAMS) {
        assert_eq!(config.subjects, vec![topology.subject(def.subjects)]);
        assert_eq!(config.retention, RetentionPolicy::Limits);
        assert_eq!(config.storage, StorageType::File);
        assert_eq!(config.max_age, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(config.duplicate_window, Duration::from_secs(120));
    }
    assert_eq!(dlq[0].subjects, topology.dlq_subjects());
    assert_eq!(dlq[0].retention, RetentionPolicy::Limits);
    assert_eq!(dlq[0].storage, StorageType::File);

    for name in first.iter().map(|c| c.name.clone()) {
        js.delete_stream(name).await.expect("cleanup");
    }
}
