//! Node identity, the registry, dead nodes (the real binary killed with SIGKILL), the
//! operator API, and nodes starting together on an empty database.

use serde_json::json;

use super::*;
use crate::binary::refuse;

async fn status_names(app: &TestApp) -> Vec<String> {
    let (_, body) = app.get("/api/cluster/status", None).await;
    let mut names: Vec<String> = body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_with_sigkill_leaves_presence_and_the_registry() {
    let cluster = Cluster::start(1).await;
    let dir = tempfile::tempdir().unwrap();
    let mut doomed = cluster.binary_node(dir.path(), "doomed");
    let (owner, room, _) = room_with_movie(cluster.node(0), json!({})).await;
    let observer = cluster.node(0).record(&room, &owner, "", "observer").await;
    observer.wait("welcome", |f| !f.is_empty()).await;
    eventually("the binary node in cluster status", || async {
        status_names(cluster.node(0)).await == ["doomed", "node-0"]
    })
    .await;
    let (_, st) = cluster.node(0).get("/api/cluster/status", None).await;
    let entry = st["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "doomed")
        .unwrap()
        .clone();
    for key in [
        "node_id",
        "address",
        "started_at",
        "last_heartbeat",
        "connections",
        "health",
    ] {
        assert!(!entry[key].is_null(), "{key} in {entry}");
    }
    // A user only on the doomed node, and one also on node 0.
    let only = cluster.node(0).register("only-there").await;
    let both = cluster.node(0).register("both-places").await;
    let url = |u: &User| format!("ws://{}/api/rooms/{room}/ws?token={}", doomed.addr, u.token);
    let mut c1 = WsClient::connect(&url(&only)).await.unwrap();
    c1.welcome().await;
    let mut c2 = WsClient::connect(&url(&both)).await.unwrap();
    c2.welcome().await;
    let stay = cluster.node(0).record(&room, &both, "", "both@0").await;
    stay.wait("welcome", |f| !f.is_empty()).await;
    observer
        .wait("both joined", |f| {
            ["only-there", "both-places"].iter().all(|n| {
                f.iter()
                    .any(|e| e["kind"] == "member_joined" && e["data"]["username"] == *n)
            })
        })
        .await;
    doomed.kill_hard();
    // Within the TTL (3 s) plus housekeeping, a survivor publishes member_left for the
    // user who was only there, and nobody else.
    observer
        .wait("member_left of the dead node's user", |f| {
            f.iter()
                .any(|e| e["kind"] == "member_left" && e["data"]["username"] == "only-there")
        })
        .await;
    assert!(
        !observer
            .frames()
            .iter()
            .any(|e| e["kind"] == "member_left" && e["data"]["username"] == "both-places"),
        "a user still connected elsewhere stays"
    );
    eventually("the dead node drops out of cluster status", || async {
        status_names(cluster.node(0)).await == ["node-0"]
    })
    .await;
    let (_, body) = cluster
        .node(0)
        .get(&format!("/api/rooms/{room}"), Some(&owner.token))
        .await;
    assert_eq!(body["member_count"], 2, "owner and both-places");
    drop(c1);
    drop(c2);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operator_drops_dead_nodes_and_resyncs_rooms() {
    // Housekeeping stays out of the way: the operator does the cleanup.
    let mut cluster = Cluster::start_on(1, &synctv_testkit::shared_redis_url(), false, |c| {
        c.cluster.housekeeping_interval_secs = 3600;
    })
    .await;
    cluster
        .add_node(|c| c.cluster.housekeeping_interval_secs = 3600)
        .await;
    let op = |app: &TestApp, method: reqwest::Method, path: &str, token: &str| {
        let req = app.http.request(method, app.url(path)).bearer_auth(token);
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let text = resp.text().await.unwrap();
            (
                status,
                serde_json::from_str::<serde_json::Value>(&text).unwrap_or_default(),
            )
        }
    };
    let n0 = cluster.node(0);
    let (s, b) = op(
        n0,
        reqwest::Method::DELETE,
        "/api/cluster/nodes/nope",
        OPERATOR_TOKEN,
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("node_not_found"))
    );
    let (s, _) = op(
        n0,
        reqwest::Method::DELETE,
        "/api/cluster/nodes/nope",
        "wrong-token",
    )
    .await;
    assert_eq!(s, 403);
    let (_, health) = cluster.node(1).get("/health", None).await;
    let alive = health["node_id"].as_str().unwrap().to_string();
    let (s, b) = op(
        n0,
        reqwest::Method::DELETE,
        &format!("/api/cluster/nodes/{alive}"),
        OPERATOR_TOKEN,
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (409, Some("node_alive")));

    // A binary node dies; the operator drops it at once (no waiting for housekeeping).
    let dir = tempfile::tempdir().unwrap();
    let mut doomed = cluster.binary_node(dir.path(), "doomed");
    let (owner, room, _) = room_with_movie(n0, json!({})).await;
    let observer = n0.record(&room, &owner, "", "observer").await;
    observer.wait("welcome", |f| !f.is_empty()).await;
    let u = n0.register("victim").await;
    let mut c = WsClient::connect(&format!(
        "ws://{}/api/rooms/{room}/ws?token={}",
        doomed.addr, u.token
    ))
    .await
    .unwrap();
    let doomed_id = c.welcome().await["node_id"].as_str().unwrap().to_string();
    observer
        .wait("victim joined", |f| {
            f.iter()
                .any(|e| e["kind"] == "member_joined" && e["data"]["username"] == "victim")
        })
        .await;
    doomed.kill_hard();
    eventually("the heartbeat expires", || async {
        !status_names(n0).await.contains(&"doomed".to_string())
    })
    .await;
    let (s, _) = op(
        n0,
        reqwest::Method::DELETE,
        &format!("/api/cluster/nodes/{doomed_id}"),
        OPERATOR_TOKEN,
    )
    .await;
    assert_eq!(s, 204);
    observer
        .wait("member_left", |f| {
            f.iter()
                .any(|e| e["kind"] == "member_left" && e["data"]["username"] == "victim")
        })
        .await;

    // Resync: every connected client, on every node, gets a fresh snapshot in a new epoch.
    let other = cluster.node(1).record(&room, &u, "", "on-1").await;
    other.wait("welcome", |f| !f.is_empty()).await;
    let old_epoch = other.welcomes()[0]["epoch"].as_str().unwrap().to_string();
    let (s, b) = op(
        n0,
        reqwest::Method::POST,
        &format!("/api/rooms/{room}/resync"),
        OPERATOR_TOKEN,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["room_id"], room.as_str());
    assert_eq!(b["seq"], 0);
    let new_epoch = b["epoch"].as_str().unwrap().to_string();
    assert_ne!(new_epoch, old_epoch);
    for r in [&observer, &other] {
        r.wait("the fresh welcome", |f| {
            f.iter().any(|w| {
                w["type"] == "welcome" && w["epoch"] == new_epoch.as_str() && w["resumed"] == false
            })
        })
        .await;
    }
    let stale = n0
        .record(&room, &u, &format!("&since=1&epoch={old_epoch}"), "stale")
        .await;
    stale.wait("welcome", |f| !f.is_empty()).await;
    assert_eq!(stale.frames()[0]["resumed"], false);
    assert_eq!(stale.frames()[0]["epoch"], new_epoch.as_str());
    drop(c);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_status_lists_live_nodes_and_a_clean_stop_deregisters() {
    let mut cluster = Cluster::start(3).await;
    for n in &cluster.nodes {
        assert_eq!(status_names(n).await, ["node-0", "node-1", "node-2"]);
        let (_, ready) = n.get("/ready", None).await;
        assert_eq!(ready["checks"]["cluster_mode"], true);
        assert_eq!(ready["checks"]["redis"], "ok");
    }
    let last = cluster.nodes.pop().unwrap();
    last.stop().await;
    assert_eq!(
        status_names(cluster.node(0)).await,
        ["node-0", "node-1"],
        "gone at once"
    );
    let info = cluster.node(0).metrics().await;
    assert!(
        info.contains("synctv_node_info{"),
        "node identity in metrics"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_start_at_once_against_an_empty_database() {
    let db = TestDb::new(DbKind::Postgres).await;
    let prefix = synctv_testkit::unique_prefix("boot");
    let url = synctv_testkit::shared_redis_url();
    let boot = |i: usize| {
        let (db, prefix, url) = (db.clone(), prefix.clone(), url.clone());
        async move {
            TestApp::spawn_on(db, move |c| {
                cluster_config(c, &url, &prefix, false);
                c.cluster.node_name = format!("boot-{i}");
            })
            .await
        }
    };
    let (a, b) = tokio::join!(boot(0), boot(1));
    a.wait_ready().await;
    b.wait_ready().await;
    let ua = a.register("first").await;
    let ub = b.register("second").await;
    let room = a.create_room(&ua, json!({"name": "r"})).await;
    let (status, _) = b
        .get(
            &format!("/api/rooms/{}", room["room_id"].as_str().unwrap()),
            Some(&ub.token),
        )
        .await;
    assert_eq!(status, 200, "both nodes on one migrated schema");
    use sqlx::Connection;
    let mut conn = sqlx::postgres::PgConnection::connect(&db.url)
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "sql")
        })
        .count();
    assert_eq!(n as usize, files, "each migration applied once");
    a.stop().await;
    b.stop().await;
}

#[test]
fn a_node_refuses_to_start_when_redis_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let port = synctv_testkit::free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let pg = pg_admin_url();
    let err = refuse(
        dir.path(),
        &[
            ("SYNCTV__DATABASE__URL", pg.as_str()),
            ("SYNCTV__AUTH__JWT_SECRET", TEST_SECRET),
            ("SYNCTV__REDIS__URL", url.as_str()),
            ("SYNCTV__REDIS__CONNECT_TIMEOUT_MS", "300"),
        ],
    );
    assert!(
        err.contains("Redis") && err.contains(&url),
        "a clear reason: {err}"
    );
}
