//! Redis faults, with a `redis-server` the test owns: killed mid-stream and restarted
//! empty, and paused with `DEBUG SLEEP`. Each node keeps serving its own clients, `/ready`
//! says `redis: "error"`, and once Redis is back every client converges on one fresh
//! snapshot (chat acknowledged during the outage included) and one stream.

use std::collections::HashMap;

use serde_json::json;
use synctv_testkit::RedisServer;

use super::*;

/// Two nodes, two clients on each.
struct Setup {
    redis: RedisServer,
    cluster: Cluster,
    clients: Vec<Recording>,
}

async fn setup() -> Setup {
    let redis = RedisServer::start();
    let cluster = Cluster::start_on(2, &redis.url(), false, |_| {}).await;
    let (owner, room, _) = room_with_movie(cluster.node(0), json!({})).await;
    let mut clients = Vec::new();
    for i in 0..4 {
        let node = cluster.node(i / 2);
        let user = if i == 0 {
            owner.clone()
        } else {
            node.register(&format!("f{i}-{}", rand_suffix())).await
        };
        let r = node
            .record(&room, &user, "", &format!("c{i}@n{}", i / 2))
            .await;
        r.wait("welcome", |f| !f.is_empty()).await;
        clients.push(r);
    }
    // Everyone sees one chat before the fault.
    let seq = clients[0].chat("before").await;
    for c in &clients {
        c.wait_seq(seq).await;
    }
    Setup {
        redis,
        cluster,
        clients,
    }
}

async fn redis_check(app: &TestApp) -> (u16, String) {
    let (status, body) = app.get("/ready", None).await;
    (
        status.as_u16(),
        body["checks"]["redis"].as_str().unwrap_or("").to_string(),
    )
}

/// Every client's latest welcome holds `texts` in its recent chat, every node has reconciled,
/// and all clients agree on the epoch and seq of that snapshot.
async fn converged(cluster: &Cluster, clients: &[Recording], texts: &[&str]) {
    for c in clients {
        c.wait("a fresh snapshot with the outage's chat", |frames| {
            frames
                .iter()
                .rev()
                .find(|f| f["type"] == "welcome")
                .is_some_and(|w| {
                    let chat = w["room"]["recent_chat"].as_array().unwrap();
                    texts
                        .iter()
                        .all(|t| chat.iter().filter(|m| m["text"] == *t).count() == 1)
                })
        })
        .await;
    }
    // Each node that served the room alone starts one more epoch when it reconciles: wait
    // until none has a room left to reconcile, then until all clients agree.
    for n in &cluster.nodes {
        eventually("every room reconciled", || async {
            n.metric("synctv_rooms_unreconciled").await == 0.0
        })
        .await;
    }
    let same = || {
        let w: Vec<_> = clients
            .iter()
            .map(|c| c.since_last_welcome().0["epoch"].clone())
            .collect();
        w.windows(2).all(|p| p[0] == p[1])
    };
    eventually("every client on the same epoch", || async { same() }).await;
}

/// No (epoch, seq) ever named two different events, on any client.
fn no_duplicate_seq(clients: &[Recording]) {
    let mut seen: HashMap<(String, u64), String> = HashMap::new();
    for c in clients {
        let mut epoch = String::new();
        for f in c.frames() {
            if f["type"] == "welcome" {
                epoch = f["epoch"].as_str().unwrap().to_string();
            } else if f["type"] == "event" {
                let key = (epoch.clone(), f["seq"].as_u64().unwrap());
                let id = f["event_id"].as_str().unwrap().to_string();
                let prev = seen.entry(key.clone()).or_insert_with(|| id.clone());
                assert_eq!(prev, &id, "{}: {key:?} named two events", c.name);
            }
        }
    }
}

/// After convergence a new event reaches every client once, right after its snapshot.
async fn one_stream_again(clients: &mut [Recording]) {
    let seq = clients[3].chat("after").await;
    for c in clients.iter() {
        c.wait_seq(seq).await;
        assert_gapless(c, seq);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_mid_stream_and_restarted() {
    let Setup {
        mut redis,
        cluster,
        mut clients,
    } = setup().await;
    redis.kill();
    for n in &cluster.nodes {
        eventually("redis reported as failing", || async {
            redis_check(n).await == (200, "error".into())
        })
        .await;
    }
    // Each node keeps serving its own clients: acknowledged and delivered locally.
    let texts = ["outage on node 0", "outage on node 1"];
    clients[0].chat(texts[0]).await;
    clients[2].chat(texts[1]).await;
    for (c, t) in [(&clients[1], texts[0]), (&clients[3], texts[1])] {
        c.wait("the local chat", |f| {
            f.iter().any(|e| e["data"]["text"] == t)
        })
        .await;
    }
    assert!(
        cluster
            .node(0)
            .metric("synctv_redis_connection_errors_total")
            .await
            > 0.0
    );
    redis.restart();
    for n in &cluster.nodes {
        n.wait_ready().await;
    }
    converged(&cluster, &clients, &texts).await;
    no_duplicate_seq(&clients);
    for c in &clients {
        assert_eq!(c.since_last_welcome().0["resumed"], false);
    }
    one_stream_again(&mut clients).await;
    drop(clients);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_paused_then_back() {
    let Setup {
        redis,
        cluster,
        mut clients,
    } = setup().await;
    redis.pause(3.0);
    eventually("redis reported as failing", || async {
        redis_check(cluster.node(0)).await == (200, "error".into())
    })
    .await;
    let texts = ["paused on node 0", "paused on node 1"];
    clients[0].chat(texts[0]).await;
    clients[2].chat(texts[1]).await;
    for (c, t) in [(&clients[1], texts[0]), (&clients[3], texts[1])] {
        c.wait("the local chat", |f| {
            f.iter().any(|e| e["data"]["text"] == t)
        })
        .await;
    }
    for n in &cluster.nodes {
        n.wait_ready().await;
    }
    converged(&cluster, &clients, &texts).await;
    no_duplicate_seq(&clients);
    one_stream_again(&mut clients).await;
    drop(clients);
    drop(redis);
    cluster.stop().await;
}
