//! The bus permissions of messaging::access on a real nats-server (docs/identity.md, "The
//! bus"): a forged `order.payment.confirmed` from wallet-service's user or from an
//! unauthenticated client is refused, order-service's is stored, and wallet-service consumes it
//! through its own durable (provisioning, consumer creation, pulls and acks all permitted).

use std::time::Duration;

use async_nats::jetstream::{self, Context};
use events::{topology::ORDERS, Topology};
use messaging::{access, ConsumerSpec, Delivery, Handler, HandlerError};
use service_kit::{
    infra::connect_nats_as, nats_auth::NatsCredentials, nats_server::NatsServer, Metrics, Shutdown,
};
use tokio::sync::mpsc;

const SUBJECT: &str = "order.payment.confirmed";

fn password(user: &str) -> String {
    format!("pw-{user}")
}

fn credentials(user: &str) -> NatsCredentials {
    NatsCredentials {
        user: user.to_string(),
        password: password(user),
    }
}

/// A server with the production names and the generated users (literal passwords).
async fn server() -> NatsServer {
    let config = access::authorization_config(&Topology::default(), |user| {
        serde_json::Value::from(password(user)).to_string()
    });
    NatsServer::start_with_config(&config)
        .await
        .expect("nats-server starts with the generated authorization")
}

/// A JetStream context as `user` whose requests give up after 2 s (a refused request is
/// answered by a permissions error on the connection, not on the request).
async fn js_as(server: &NatsServer, user: &str) -> Context {
    let client = connect_nats_as(&server.url(), user, Some(&credentials(user)))
        .await
        .expect("connects");
    jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(client)
}

async fn stored(js: &Context) -> u64 {
    let mut stream = js.get_stream("ORDERS").await.expect("ORDERS exists");
    stream.info().await.expect("info").state.messages
}

struct Forward(mpsc::UnboundedSender<Delivery>);

impl Handler for Forward {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let _ = self.0.send(delivery.clone());
        Ok(())
    }
}

fn confirmed() -> bytes::Bytes {
    let payload = serde_json::json!({
        "eventId": uuid::Uuid::now_v7(),
        "type": SUBJECT,
        "version": 1,
        "occurredAt": chrono::Utc::now().to_rfc3339(),
        "payload": {},
    });
    serde_json::to_vec(&payload).expect("serializes").into()
}

#[tokio::test]
async fn only_order_service_publishes_order_events_and_wallet_service_consumes_them() {
    let server = server().await;
    let url = server.url();

    // No credentials, or a wrong password: not even connected.
    assert!(async_nats::connect(&url).await.is_err(), "anonymous client");
    let wrong = NatsCredentials {
        user: "order-service".into(),
        password: "guess".into(),
    };
    assert!(connect_nats_as(&url, "forger", Some(&wrong)).await.is_err());

    // Every service provisions at start; order-service's user may.
    let order = js_as(&server, "order-service").await;
    messaging::provision(&order, &Topology::default())
        .await
        .expect("order-service provisions the streams");

    // wallet-service's user forging an order event: the server answers with a permissions
    // violation and drops it; nothing is stored.
    let (errors_tx, mut errors) = mpsc::unbounded_channel();
    let forger = async_nats::ConnectOptions::with_user_and_password(
        "wallet-service".into(),
        password("wallet-service"),
    )
    .custom_inbox_prefix(access::inbox_prefix("wallet-service"))
    .event_callback(move |event| {
        let errors_tx = errors_tx.clone();
        async move {
            if let async_nats::Event::ServerError(e) = event {
                let _ = errors_tx.send(e.to_string());
            }
        }
    })
    .connect(&url)
    .await
    .expect("wallet-service connects");
    let forger = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(forger);
    let refused = match forger.publish(SUBJECT, confirmed()).await {
        Err(_) => true,
        Ok(ack) => ack.await.is_err(),
    };
    assert!(refused, "wallet-service may not publish {SUBJECT}");
    let error = tokio::time::timeout(Duration::from_secs(5), errors.recv())
        .await
        .expect("the server says why")
        .expect("an error");
    assert!(
        error.to_lowercase().contains("permissions violation") && error.contains(SUBJECT),
        "{error}"
    );
    assert_eq!(stored(&order).await, 0, "the forged event is not in ORDERS");
    let wallet = js_as(&server, "wallet-service").await;

    // Nor may it read the stream through someone else's durable.
    let foreign = ConsumerSpec::new("order-query-projection", ORDERS, vec![SUBJECT]);
    let metrics = Metrics::new("wallet-service");
    let shutdown = Shutdown::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let denied = messaging::spawn_consumer(
        wallet.clone(),
        &Topology::default(),
        foreign,
        Forward(tx.clone()),
        &messaging::Replayers::default(),
        &metrics,
        &shutdown,
    )
    .await;
    assert!(
        denied.is_err(),
        "wallet-service may not create order-query's durable"
    );

    // order-service's event is stored, and wallet-settlement (its own durable) gets it and acks.
    let ack = order
        .publish(SUBJECT, confirmed())
        .await
        .expect("order-service publishes")
        .await
        .expect("stored");
    assert_eq!(ack.stream, "ORDERS");
    let spec = ConsumerSpec::new("wallet-settlement", ORDERS, vec![SUBJECT]);
    messaging::spawn_consumer(
        wallet.clone(),
        &Topology::default(),
        spec,
        Forward(tx),
        &messaging::Replayers::default(),
        &metrics,
        &shutdown,
    )
    .await
    .expect("wallet-service creates wallet-settlement");
    let delivery = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("delivered within 10 s")
        .expect("a delivery");
    assert_eq!(delivery.subject, SUBJECT);
    assert_eq!(delivery.stream_seq, ack.sequence);
    // The ack reached the server: the operators' user (credentials in the URL) sees it.
    let admin_url = url.replace(
        "nats://",
        &format!(
            "nats://{0}:{1}@",
            access::ADMIN_USER,
            password(access::ADMIN_USER)
        ),
    );
    let admin = jetstream::new(
        service_kit::infra::connect_nats(&admin_url, "ops")
            .await
            .expect("the admin user connects"),
    );
    let mut acked = false;
    for _ in 0..100 {
        let mut consumer: jetstream::consumer::PullConsumer = admin
            .get_consumer_from_stream("wallet-settlement", "ORDERS")
            .await
            .expect("consumer exists");
        let info = consumer.info().await.expect("info");
        if info.ack_floor.stream_sequence == ack.sequence && info.num_ack_pending == 0 {
            acked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(acked, "wallet-service's ack was accepted");
    shutdown.trigger();
}

#[test]
fn deploy_auth_conf_is_generated_from_the_table() {
    for file in ["deploy/nats/auth.conf", "deploy/k8s/base/nats/auth.conf"] {
        let path = format!("{}/../../{file}", env!("CARGO_MANIFEST_DIR"));
        let committed = std::fs::read_to_string(&path).expect("readable");
        assert!(
            committed == access::deployed_authorization_config(),
            "{file} is stale: cargo run -q -p messaging --example nats-access > {file}"
        );
    }
}

struct Reject;

impl Handler for Reject {
    async fn handle(&self, _delivery: &Delivery) -> Result<(), HandlerError> {
        Err(HandlerError::reject("refused by the test"))
    }
}

/// The whole service path as wallet-service's user on a namespaced deployment: EventBus start
/// (provision, dead-letter worker), its consumer, a rejected event dead-lettered through the
/// DLQ advisory and read back from ORDERS (STREAM.MSG.GET) into `dead_letters`.
#[tokio::test]
async fn a_service_as_its_own_user_consumes_and_dead_letters() {
    const SPEC: service_kit::ServiceSpec = service_kit::ServiceSpec {
        name: "wallet-service",
        default_port: 0,
        database: Some("bus_access"),
        default_node_id: 1,
        uses_nats: true,
        uses_redis: false,
    };
    let ns = service_kit::testing::unique_namespace();
    let topology = Topology::new(ns.clone());
    let config = access::authorization_config(&topology, |user| {
        serde_json::Value::from(password(user)).to_string()
    });
    let server = NatsServer::start_with_config(&config)
        .await
        .expect("nats-server starts");
    let mut config = service_kit::testing::test_config(&SPEC, &ns);
    config.nats_url = Some(server.url());
    config.nats_credentials = Some(credentials("wallet-service"));
    let infra = service_kit::Infra::connect(&config, &[&messaging::MIGRATOR])
        .await
        .expect("database and NATS as wallet-service");
    let metrics = Metrics::new("wallet-service");
    let shutdown = Shutdown::new();
    let bus = messaging::EventBus::start(&config, &infra, &metrics, &shutdown)
        .await
        .expect("provisions");
    let spec = ConsumerSpec::new("wallet-settlement", ORDERS, vec![SUBJECT]);
    bus.consume(spec, Reject).await.expect("consumes");
    bus.start_dead_letters(&config)
        .await
        .expect("starts the dead-letter worker");

    let order = js_as(&server, "order-service").await;
    let subject = topology.subject(SUBJECT);
    order
        .publish(subject.clone(), confirmed())
        .await
        .expect("order-service publishes")
        .await
        .expect("stored");
    let pool = infra.pool().expect("pool");
    let mut stored = None;
    for _ in 0..200 {
        stored = sqlx::query_as::<_, (String, i32)>(
            "select subject, length(payload) from dead_letters where consumer = 'wallet-settlement'",
        )
        .fetch_optional(&pool)
        .await
        .expect("query");
        if stored.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (dead_subject, length) = stored.expect("the rejected event is a dead letter");
    assert_eq!(dead_subject, subject);
    assert!(length > 0, "the original was read back from the stream");
    shutdown.trigger();
    pool.close().await;
    config.nats_url = None; // the streams go with the private server
    service_kit::testing::drop_test_state(&config).await;
}
