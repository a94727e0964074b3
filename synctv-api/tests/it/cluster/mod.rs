//! Cluster mode from outside: several real nodes (in-process `run` on port 0, or the real
//! binary) on one real PostgreSQL database and a real Redis (the shared one with a fresh key
//! prefix, or a `redis-server` / Redis Cluster the test starts and breaks), real WebSocket
//! and HTTP clients.

mod delivery;
mod faults;
mod nginx;
mod nodes;
mod presence;
mod redis_cluster;

use std::sync::Arc;

use serde_json::{Value, json};
use synctv_core::config::Config;

use crate::binary::{Proc, start};
use crate::common::*;

/// Nodes of one cluster.
pub struct Cluster {
    pub nodes: Vec<TestApp>,
    pub db: Arc<TestDb>,
    pub redis_url: String,
    pub prefix: String,
    pub cluster_mode: bool,
}

/// The cluster settings every test node gets (fast canaries and timeouts).
pub fn cluster_config(c: &mut Config, redis_url: &str, prefix: &str, cluster_mode: bool) {
    c.redis.url = redis_url.into();
    c.redis.key_prefix = prefix.into();
    c.redis.cluster_mode = cluster_mode;
    c.redis.canary_interval_ms = 100;
    c.redis.canary_timeout_ms = 1000;
    c.redis.command_timeout_ms = 500;
    c.redis.connect_timeout_ms = 500;
    c.redis.reconnect_min_ms = 50;
    c.redis.reconnect_max_ms = 500;
    c.redis.gap_timeout_ms = 100;
    c.cluster.node_ttl_secs = 3;
    c.cluster.housekeeping_interval_secs = 1;
    c.cluster.operator_token = OPERATOR_TOKEN.into();
    c.rooms.recent_chat = 1000;
}

pub const OPERATOR_TOKEN: &str = "operator-token-0123456789";

impl Cluster {
    /// `n` nodes on the shared Redis and a fresh PostgreSQL database.
    pub async fn start(n: usize) -> Cluster {
        Self::start_on(n, &synctv_testkit::shared_redis_url(), false, |_| {}).await
    }

    pub async fn start_on(
        n: usize,
        redis_url: &str,
        cluster_mode: bool,
        tweak: impl Fn(&mut Config) + Clone,
    ) -> Cluster {
        let db = TestDb::new(DbKind::Postgres).await;
        let mut c = Cluster {
            nodes: Vec::new(),
            db,
            redis_url: redis_url.into(),
            prefix: synctv_testkit::unique_prefix("it"),
            cluster_mode,
        };
        for _ in 0..n {
            c.add_node(tweak.clone()).await;
        }
        c
    }

    /// Start one more node.
    pub async fn add_node(&mut self, tweak: impl Fn(&mut Config)) -> &TestApp {
        let i = self.nodes.len();
        let (url, prefix, mode) = (
            self.redis_url.clone(),
            self.prefix.clone(),
            self.cluster_mode,
        );
        let app = TestApp::spawn_on(self.db.clone(), move |c| {
            cluster_config(c, &url, &prefix, mode);
            c.cluster.node_name = format!("node-{i}");
            tweak(c);
        })
        .await;
        app.wait_ready().await;
        self.nodes.push(app);
        self.nodes.last().unwrap()
    }

    /// The real binary as one more node (a process a test can SIGKILL).
    pub(crate) fn binary_node(&self, dir: &std::path::Path, name: &str) -> Proc {
        start(
            dir,
            &[],
            &[
                ("SYNCTV__SERVER__BIND", "127.0.0.1:0"),
                ("SYNCTV__DATABASE__URL", self.db.url.as_str()),
                ("SYNCTV__REDIS__URL", self.redis_url.as_str()),
                ("SYNCTV__REDIS__KEY_PREFIX", self.prefix.as_str()),
                ("SYNCTV__REDIS__CANARY_INTERVAL_MS", "100"),
                ("SYNCTV__REDIS__CANARY_TIMEOUT_MS", "1000"),
                ("SYNCTV__AUTH__JWT_SECRET", TEST_SECRET),
                ("SYNCTV__AUTH__PASSWORD_HASH_MEMORY_KIB", "1024"),
                ("SYNCTV__CLUSTER__NODE_TTL_SECS", "3"),
                ("NODE_NAME", name),
            ],
        )
    }

    pub fn node(&self, i: usize) -> &TestApp {
        &self.nodes[i % self.nodes.len()]
    }

    pub async fn stop(self) {
        for n in self.nodes {
            n.stop().await;
        }
    }
}

impl TestApp {
    /// Wait until `/ready` answers 200 with `redis: "ok"`.
    pub async fn wait_ready(&self) {
        eventually("the node to be ready with Redis ok", || async {
            let (status, body) = self.get("/ready", None).await;
            status == 200 && body["checks"]["redis"] == "ok"
        })
        .await;
    }

    /// A recording WebSocket client of `user` in `room` (query appended to the token).
    pub async fn record(&self, room: &str, user: &User, query: &str, name: &str) -> Recording {
        self.ws(room, user, query).await.record(name)
    }
}

/// A room with a movie, owned by a fresh user; returns (owner, room id, movie id).
pub async fn room_with_movie(app: &TestApp, settings: Value) -> (User, String, String) {
    let owner = app.register(&format!("owner{}", rand_suffix())).await;
    let room = app
        .create_room(
            &owner,
            json!({"name": "cluster room", "settings": settings}),
        )
        .await;
    let room_id = room["room_id"].as_str().unwrap().to_string();
    let movie = app.add_movie(&owner, &room_id, "film").await;
    (
        owner,
        room_id,
        movie["movie_id"].as_str().unwrap().to_string(),
    )
}

pub fn rand_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// The (seq, event_id) of every event since the last welcome.
pub fn event_ids(r: &Recording) -> Vec<(u64, String)> {
    r.since_last_welcome()
        .1
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["event_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Assert that `r` received, after its welcome at `w`, exactly the events `w+1 ..= upto`,
/// once each, in order.
pub fn assert_gapless(r: &Recording, upto: u64) {
    let (welcome, events) = r.since_last_welcome();
    let from = welcome["seq"].as_u64().unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    let want: Vec<u64> = (from + 1..=upto).collect();
    assert_eq!(seqs, want, "{}: every event once, in seq order", r.name);
}
