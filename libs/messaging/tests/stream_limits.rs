//! A full business stream refuses new messages (the publisher's outbox keeps and retries them)
//! instead of dropping its oldest events; the DLQ stream forgets its oldest advisories.

use async_nats::jetstream::stream::DiscardPolicy;
use events::{topology::SELLERS, Topology};
use messaging::ProvisionOptions;

#[tokio::test]
async fn a_full_business_stream_refuses_new_messages_and_keeps_the_old_ones() {
    let url = std::env::var("TEST_NATS_URL").expect("TEST_NATS_URL");
    let ns = service_kit::testing::unique_namespace();
    let client = async_nats::connect(url.as_str()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let topology = Topology::new(ns.clone());
    let options = ProvisionOptions {
        max_bytes: 4096,
        ..ProvisionOptions::default()
    };
    messaging::provision_with(&js, &topology, &options)
        .await
        .expect("provision");

    let stream_name = topology.stream_name(&SELLERS);
    let mut stream = js.get_stream(&stream_name).await.expect("stream");
    let config = stream.info().await.expect("info").config.clone();
    assert_eq!(config.discard, DiscardPolicy::New);
    assert_eq!(config.max_bytes, 4096);
    let mut dlq = js.get_stream(topology.dlq_stream()).await.expect("dlq");
    assert_eq!(
        dlq.info().await.expect("info").config.discard,
        DiscardPolicy::Old
    );

    let subject = topology.subject("seller.registered");
    let body = vec![b'x'; 512];
    let mut accepted = 0u64;
    let mut refused = None;
    for i in 0..64 {
        let ack = match js.publish(subject.clone(), body.clone().into()).await {
            Ok(ack) => ack.await,
            Err(e) => Err(e),
        };
        match ack {
            Ok(_) => accepted += 1,
            Err(e) => {
                refused = Some((i, e.to_string()));
                break;
            }
        }
    }
    let (at, error) = refused.expect("a 4 KiB stream refuses 32 KiB of messages");
    assert!(
        accepted > 0 && at == accepted,
        "{accepted} accepted, refused at {at}"
    );
    assert!(error.contains("maximum bytes"), "{error}");
    let state = stream.info().await.expect("info").state.clone();
    assert_eq!(state.first_sequence, 1, "the oldest message is still there");
    assert_eq!(state.messages, accepted);

    service_kit::testing::delete_namespace_streams(&url, &ns).await;
}
