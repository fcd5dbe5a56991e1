//! The relay's Redis heartbeat group against what an attacker or an outage does to it: a member
//! whose heartbeat lies in the future is evicted at once, and an instance cut off from Redis
//! gives up its shards, which the instance that still reaches Redis takes over
//! (libs/outbox/src/shards.rs).

mod common;

use std::{sync::Arc, time::Duration};

use common::wait_until;
use outbox::ShardCoordinator;
use redis::{aio::ConnectionManager, AsyncCommands};
use service_kit::{infra, Shutdown};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::Mutex,
    task::JoinSet,
};

const SHARDS: u16 = 4;
const HEARTBEAT: Duration = Duration::from_millis(300);
const EVICTION: Duration = Duration::from_millis(900);

fn redis_addr() -> (String, String) {
    let url = std::env::var("TEST_REDIS_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let parsed = url::Url::parse(&url).expect("TEST_REDIS_URL is a URL");
    let host = parsed.host_str().unwrap_or("127.0.0.1").to_string();
    let port = parsed.port().unwrap_or(6379);
    (url, format!("{host}:{port}"))
}

fn unique_key() -> String {
    ShardCoordinator::key(
        "coordinator-test",
        &uuid::Uuid::new_v4().simple().to_string(),
    )
}

async fn connect(url: &str) -> ConnectionManager {
    infra::connect_redis(url).await.expect("redis")
}

#[tokio::test]
async fn a_member_whose_heartbeat_lies_in_the_future_is_evicted() {
    let (url, _) = redis_addr();
    let mut redis = connect(&url).await;
    let key = unique_key();
    // A member that would never expire: its score is far past any Redis clock.
    let _: i64 = redis
        .zadd(&key, "forged", 9_999_999_999_999_i64)
        .await
        .expect("zadd");
    let coordinator =
        ShardCoordinator::new(redis.clone(), key.clone(), SHARDS, HEARTBEAT, EVICTION);
    let owned = coordinator.heartbeat().await.expect("heartbeat");
    assert_eq!(
        owned,
        vec![0, 1, 2, 3],
        "the forged member still owns shards"
    );
    let forged: Option<f64> = redis.zscore(&key, "forged").await.expect("zscore");
    assert_eq!(forged, None, "the forged member was not removed");
    let _: i64 = redis.del(&key).await.expect("del");
}

/// A TCP relay to Redis that can be cut: every open connection is dropped and new ones are
/// refused, as when the network between a relay and Redis fails.
struct Cuttable {
    addr: String,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl Cuttable {
    async fn to(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let connections = tasks.clone();
        tasks.lock().await.spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                connections.lock().await.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { addr, tasks }
    }

    async fn cut(&self) {
        // Aborting the accept loop drops the listener: new connections are refused.
        self.tasks.lock().await.abort_all();
    }
}

#[tokio::test]
async fn an_instance_cut_off_from_redis_gives_up_its_shards_and_the_other_takes_them() {
    let (url, upstream) = redis_addr();
    let key = unique_key();
    let proxy = Cuttable::to(upstream).await;
    let cut_off = ShardCoordinator::new(
        connect(&url.replace(&redis_addr().1, &proxy.addr)).await,
        key.clone(),
        SHARDS,
        HEARTBEAT,
        EVICTION,
    );
    let reachable = ShardCoordinator::new(
        connect(&url).await,
        key.clone(),
        SHARDS,
        HEARTBEAT,
        EVICTION,
    );
    let shutdown = Shutdown::new();
    tokio::spawn(cut_off.clone().run(shutdown.clone()));
    tokio::spawn(reachable.clone().run(shutdown.clone()));
    let split = wait_until(Duration::from_secs(5), || async {
        cut_off.owned_shards().await.len() == 2 && reachable.owned_shards().await.len() == 2
    })
    .await;
    assert!(split.is_some(), "the 4 shards were not split 2 + 2");

    proxy.cut().await;
    // Bounded: it stops within eviction − heartbeat of its last heartbeat plus one period.
    let gave_up = wait_until(Duration::from_secs(3), || async {
        cut_off.owned_shards().await.is_empty()
    })
    .await;
    assert!(gave_up.is_some(), "the cut-off instance kept its shards");
    let took_over = wait_until(Duration::from_secs(3), || async {
        reachable.owned_shards().await == vec![0, 1, 2, 3]
    })
    .await;
    assert!(
        took_over.is_some(),
        "the reachable instance never took all shards"
    );

    shutdown.trigger();
    let mut redis = connect(&url).await;
    let _: i64 = redis.del(&key).await.expect("del");
}
