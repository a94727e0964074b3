//! Three nodes over a real Redis Cluster (three primaries this test starts): rooms spread
//! over slots and shards, sharded pub/sub, and subscriptions that survive their connections
//! being killed and their slots moving to another primary.

use serde_json::json;
use synctv_testkit::RedisCluster;

use super::*;

const ROOMS: usize = 6;

/// One room with a client on every node; `publisher` is on node 0.
struct Room {
    clients: Vec<Recording>,
}

async fn rooms(cluster: &Cluster) -> Vec<Room> {
    let mut out = Vec::new();
    for r in 0..ROOMS {
        let (owner, room, _) = room_with_movie(cluster.node(r), json!({})).await;
        let mut clients = Vec::new();
        for n in 0..3 {
            let user = if n == 0 {
                owner.clone()
            } else {
                cluster
                    .node(n)
                    .register(&format!("rc{r}-{n}-{}", rand_suffix()))
                    .await
            };
            let c = cluster
                .node(n)
                .record(&room, &user, "", &format!("room{r}@n{n}"))
                .await;
            c.wait("welcome", |f| !f.is_empty()).await;
            clients.push(c);
        }
        out.push(Room { clients });
    }
    out
}

/// Chat from every node in every room; every client gets every event once, in order.
async fn traffic(rooms: &mut [Room], round: &str) {
    for room in rooms.iter_mut() {
        let mut last = 0;
        for n in 0..3 {
            last = last.max(room.clients[n].chat(&format!("{round} from {n}")).await);
        }
        for c in &room.clients {
            c.wait_seq(last).await;
            assert_gapless(c, last);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_on_a_redis_cluster() {
    let redis = RedisCluster::start(3);
    let cluster = Cluster::start_on(3, &redis.url(), true, |_| {}).await;
    let mut rooms = rooms(&cluster).await;
    traffic(&mut rooms, "first").await;
    let resubscribed_before = cluster
        .node(0)
        .metric("synctv_redis_connection_errors_total")
        .await;

    // Every pub/sub connection of every primary is killed: nodes resubscribe, per slot.
    redis.kill_pubsub_clients();
    for n in &cluster.nodes {
        n.wait_ready().await;
    }
    traffic(&mut rooms, "after reconnect").await;
    assert!(
        cluster
            .node(0)
            .metric("synctv_redis_connection_errors_total")
            .await
            > resubscribed_before,
        "the lost subscription was noticed"
    );

    // A third of the slots move to another primary, keys and all.
    redis.reshard(5461);
    for n in &cluster.nodes {
        n.wait_ready().await;
    }
    traffic(&mut rooms, "after resharding").await;
    drop(rooms);
    cluster.stop().await;
}
