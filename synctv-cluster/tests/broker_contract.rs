//! The broker contract (tests/contract) run against every implementation: the in-process
//! bus, a real Redis (the shared one, a fresh key prefix per test), and a real Redis Cluster
//! of three primaries this test starts.

mod contract;
mod support;

use synctv_cluster::broker::LocalBus;
use synctv_cluster::history::HistoryLimits;
use synctv_core::ids::NodeId;

use contract::Node;
use support::recorder::Recorder;

fn limits(size: usize) -> HistoryLimits {
    HistoryLimits {
        size,
        ttl_ms: 300_000,
    }
}

async fn local_pair(size: usize) -> (Node, Node) {
    let bus = LocalBus::new(limits(size));
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let id = NodeId::generate();
        let broker = std::sync::Arc::new(bus.broker(id.clone()));
        let rec = Recorder::new();
        synctv_cluster::broker::Broker::start(&*broker, rec.clone())
            .await
            .unwrap();
        nodes.push(Node { id, broker, rec });
    }
    let b = nodes.pop().unwrap();
    (nodes.pop().unwrap(), b)
}

async fn redis_pair_at(url: &str, cluster: bool, size: usize) -> (Node, Node) {
    let cfg = support::redis_config(url, &synctv_testkit::unique_prefix("contract"), cluster);
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let (id, broker) = support::redis_broker(&cfg, limits(size)).await;
        let rec = Recorder::new();
        broker.start(rec.clone()).await.unwrap();
        nodes.push(Node { id, broker, rec });
    }
    let b = nodes.pop().unwrap();
    (nodes.pop().unwrap(), b)
}

async fn redis_pair(size: usize) -> (Node, Node) {
    redis_pair_at(&synctv_testkit::shared_redis_url(), false, size).await
}

macro_rules! contract {
    ($pair:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn seq_is_gapless_across_nodes() {
            let (a, b) = super::$pair(1000).await;
            crate::contract::seq_is_gapless_across_nodes(a, b).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn concurrent_publishers_stay_ordered() {
            let (a, b) = super::$pair(1000).await;
            crate::contract::concurrent_publishers_stay_ordered(a, b).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn many_rooms_at_once_stay_separate() {
            let (a, b) = super::$pair(1000).await;
            crate::contract::many_rooms_at_once_stay_separate(a, b).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn history_replays_exactly_the_gap() {
            let (a, b) = super::$pair(1000).await;
            crate::contract::history_replays_exactly_the_gap(a, b).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn history_is_bounded() {
            let (a, _b) = super::$pair(4).await;
            crate::contract::history_is_bounded(a).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn presence_counts_every_node() {
            let (a, b) = super::$pair(1000).await;
            crate::contract::presence_counts_every_node(a, b).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn dropping_a_node_leaves_its_users() {
            let (a, b) = super::$pair(1000).await;
            crate::contract::dropping_a_node_leaves_its_users(a, b).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn presence_sync_publishes_only_changes() {
            let (a, _b) = super::$pair(1000).await;
            crate::contract::presence_sync_publishes_only_changes(a).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn new_epoch_restarts_the_stream() {
            let (a, b) = super::$pair(1000).await;
            crate::contract::new_epoch_restarts_the_stream(a, b).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn subscriptions_and_broadcasts() {
            let (a, b) = super::$pair(1000).await;
            crate::contract::subscriptions_and_broadcasts(a, b).await;
        }
    };
}

mod local {
    contract!(local_pair);
}

mod redis {
    contract!(redis_pair);
}

/// The whole contract on one Redis Cluster (3 primaries started here): rooms land on every
/// shard, their keys and channel in one slot, traffic over sharded pub/sub.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_cluster_passes_the_contract() {
    let cluster = synctv_testkit::RedisCluster::start(3);
    let url = cluster.url();
    let pair = |size| redis_pair_at(&url, true, size);
    let (a, b) = pair(1000).await;
    contract::seq_is_gapless_across_nodes(a, b).await;
    let (a, b) = pair(1000).await;
    contract::concurrent_publishers_stay_ordered(a, b).await;
    let (a, b) = pair(1000).await;
    contract::many_rooms_at_once_stay_separate(a, b).await;
    let (a, b) = pair(1000).await;
    contract::history_replays_exactly_the_gap(a, b).await;
    let (a, _b) = pair(4).await;
    contract::history_is_bounded(a).await;
    let (a, b) = pair(1000).await;
    contract::presence_counts_every_node(a, b).await;
    let (a, b) = pair(1000).await;
    contract::dropping_a_node_leaves_its_users(a, b).await;
    let (a, _b) = pair(1000).await;
    contract::presence_sync_publishes_only_changes(a).await;
    let (a, b) = pair(1000).await;
    contract::new_epoch_restarts_the_stream(a, b).await;
    let (a, b) = pair(1000).await;
    contract::subscriptions_and_broadcasts(a, b).await;
}
