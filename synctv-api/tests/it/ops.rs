//! Health, readiness, metrics, cluster status and graceful shutdown.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;
use crate::dual;

async fn health_ready_and_cluster_status(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let (s, health) = app.get("/health", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    let node_id = health["node_id"].as_str().unwrap().to_string();
    assert!(health["uptime_seconds"].as_u64().is_some());

    let (s, ready) = app.get("/ready", None).await;
    assert_eq!(s, StatusCode::OK, "{ready}");
    assert_eq!(
        ready,
        json!({"status": "ready", "checks": {"database": "ok", "redis": "disabled", "cluster_mode": false}}),
        "exactly the contract's shape"
    );
    assert_eq!(
        health.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["node_id", "status", "uptime_seconds"]
    );

    let u = app.register("u").await;
    let room = app.create_room(&u, json!({"name": "r"})).await;
    let mut c = app.ws(room["room_id"].as_str().unwrap(), &u, "").await;
    c.welcome().await;
    let (s, status) = app.get("/api/cluster/status", None).await;
    assert_eq!(s, StatusCode::OK);
    let nodes = status["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    let n = &nodes[0];
    assert_eq!(n["node_id"], node_id.as_str());
    assert_eq!(n["connections"], 1);
    assert_eq!(n["health"], "ok");
    assert!(n["name"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(n["address"], app.addr.to_string());
    for key in ["started_at", "last_heartbeat"] {
        let t = n[key].as_str().unwrap();
        humantime::parse_rfc3339(t).unwrap_or_else(|e| panic!("{key} {t} is not RFC 3339: {e}"));
    }
    c.close().await;
    app.stop().await;
}
dual!(health_ready_and_cluster_status);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_is_503_while_the_database_is_unreachable() {
    let app = TestApp::spawn(DbKind::Postgres).await;
    let (s, _) = app.get("/ready", None).await;
    assert_eq!(s, StatusCode::OK);
    app.db.drop_now().await;
    let (s, ready) = app.get("/ready", None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{ready}");
    assert_eq!(ready["status"], "not_ready");
    assert_eq!(ready["checks"]["database"], "error");
    // Liveness is unaffected, and requests needing the database fail with JSON errors.
    let (s, _) = app.get("/health", None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body) = app
        .post(
            "/api/auth/register",
            None,
            json!({"username": "x", "password": "secret-pw"}),
        )
        .await;
    assert!(s.is_server_error(), "{s}");
    assert!(body["error"]["code"].as_str().is_some());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_prometheus_conventions_and_count() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let text = app.metrics().await;
    for (name, kind) in [
        ("synctv_connections_total", "counter"),
        ("synctv_connections_active", "gauge"),
        ("synctv_events_published_total", "counter"),
        ("synctv_deliveries_total", "counter"),
        ("synctv_slow_consumer_disconnects_total", "counter"),
        ("process_cpu_seconds_total", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
    ] {
        assert!(
            text.contains(&format!("# TYPE {name} {kind}")),
            "{name} {kind} in:\n{text}"
        );
    }
    let u = app.register("u").await;
    let room = app.create_room(&u, json!({"name": "r"})).await;
    let mut c = app.ws(room["room_id"].as_str().unwrap(), &u, "").await;
    c.welcome().await;
    c.chat("counted").await;
    assert_eq!(app.metric("synctv_connections_total").await, 1.0);
    assert_eq!(app.metric("synctv_connections_active").await, 1.0);
    assert!(app.metric("process_open_fds").await >= 1.0);
    assert!(app.metric("process_resident_memory_bytes").await > 1e6);
    for t in ["member_joined", "chat"] {
        let label = format!(r#"type="{t}""#);
        let n = app
            .metric_where("synctv_events_published_total", &[&label])
            .await;
        assert_eq!(n, Some(1.0), "{t}");
    }
    assert_eq!(
        app.metric_where("synctv_events_published_total", &[]).await,
        Some(2.0),
        "member_joined + chat, and nothing else"
    );
    // The busiest rooms and users, bounded.
    let room_label = format!(r#"room="{}""#, room["room_id"].as_str().unwrap());
    let user_label = format!(r#"user="{}""#, u.user_id);
    assert_eq!(
        app.metric_where("synctv_connections_per_room", &[&room_label])
            .await,
        Some(1.0)
    );
    assert_eq!(
        app.metric_where("synctv_connections_per_user", &[&user_label])
            .await,
        Some(1.0)
    );
    c.close().await;
    eventually("the gauge drops", || async {
        app.metric("synctv_connections_active").await == 0.0
    })
    .await;
    assert_eq!(
        app.metric("synctv_connections_total").await,
        1.0,
        "a counter never goes down"
    );
    let created = app
        .metric_where(
            "synctv_http_requests_total",
            &[
                r#"method="POST""#,
                r#"route="/api/rooms""#,
                r#"status="201""#,
            ],
        )
        .await;
    assert_eq!(created, Some(1.0));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_notifies_drains_and_closes_with_1001() {
    let mut app = TestApp::spawn_with(DbKind::Sqlite, |c| {
        c.server.shutdown_drain_secs = 2;
        c.server.shutdown_reconnect_after_ms = 750;
        c.server.shutdown_reconnect_jitter_ms = 1000;
    })
    .await;
    let a_user = app.register("a").await;
    let b_user = app.register("b").await;
    let room = app.create_room(&a_user, json!({"name": "r"})).await;
    let room_id = room["room_id"].as_str().unwrap().to_string();
    let mut a = app.ws(&room_id, &a_user, "").await;
    a.welcome().await;
    a.event("member_joined").await;
    let mut b = app.ws(&room_id, &b_user, "").await;
    b.welcome().await;
    b.event("member_joined").await;
    a.event("member_joined").await;
    let mut more = Vec::new();
    for _ in 0..6 {
        let mut ws = app.ws(&room_id, &a_user, "").await;
        ws.welcome().await;
        more.push(ws);
    }

    app.trigger_shutdown();
    // Each client its own delay in [750, 1750): no reconnect stampede on the other nodes.
    let notice = a.recv_type("shutdown").await;
    let mut delays = vec![notice["reconnect_after_ms"].as_u64().unwrap()];
    for ws in &mut more {
        delays.push(
            ws.recv_type("shutdown").await["reconnect_after_ms"]
                .as_u64()
                .unwrap(),
        );
    }
    assert!(delays.iter().all(|d| (750..1750).contains(d)), "{delays:?}");
    delays.sort_unstable();
    delays.dedup();
    assert!(delays.len() > 1, "the delays are spread: {delays:?}");
    // During the drain: not ready, no new sockets, existing ones still served.
    let (s, ready) = app.get("/ready", None).await;
    assert_eq!(
        (s, ready["status"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("not_ready"))
    );
    let refused = app
        .try_ws(&room_id, &b_user.token, "")
        .await
        .err()
        .expect("refused while draining");
    assert_eq!(
        (refused.0, refused.1["error"]["code"].as_str()),
        (503, Some("draining"))
    );
    assert_eq!(b.recv().await["type"], "shutdown");
    let seq = b.chat("said during the drain").await;
    assert_eq!(a.event("chat").await["seq"], seq);

    // After the drain: 1001 for everyone still here, after their queued frames.
    let (_, closed) = a.closed().await;
    assert_eq!(closed, Closed::Code(1001, "server shutting down".into()));
    let (_, closed) = b.closed().await;
    assert_eq!(closed, Closed::Code(1001, "server shutting down".into()));
    app.join().await.expect("run returns Ok after the drain");
    assert!(
        tokio::net::TcpStream::connect(app.addr).await.is_err(),
        "the listener is closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_early_when_clients_leave() {
    let mut app = TestApp::spawn_with(DbKind::Sqlite, |c| c.server.shutdown_drain_secs = 600).await;
    let u = app.register("u").await;
    let room = app.create_room(&u, json!({"name": "r"})).await;
    let mut c = app.ws(room["room_id"].as_str().unwrap(), &u, "").await;
    c.welcome().await;
    app.trigger_shutdown();
    assert_eq!(c.recv_type("shutdown").await["type"], "shutdown");
    c.close().await;
    app.join()
        .await
        .expect("run returns Ok long before the 600 s drain");
}

/// Per-room and per-user series are bounded: the busiest `metrics.per_room_top` rooms and
/// `per_user_top` users; per-room event counts only when opted in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_room_and_per_user_series_are_bounded() {
    for opt_in in [false, true] {
        let app = TestApp::spawn_with(DbKind::Sqlite, |c| {
            c.metrics.per_room_top = 2;
            c.metrics.per_user_top = 1;
            c.metrics.per_room_events = opt_in;
        })
        .await;
        let mut sockets = Vec::new();
        let mut rooms = Vec::new();
        for i in 0..3 {
            let u = app.register(&format!("u{i}")).await;
            let room = app.create_room(&u, json!({"name": format!("r{i}")})).await;
            let id = room["room_id"].as_str().unwrap().to_string();
            // Room i gets i + 1 sockets.
            for _ in 0..=i {
                let mut ws = app.ws(&id, &u, "").await;
                ws.welcome().await;
                sockets.push(ws);
            }
            rooms.push(id);
        }
        let text = app.metrics().await;
        let series = |name: &str| {
            text.lines()
                .filter(|l| l.starts_with(&format!("{name}{{")))
                .count()
        };
        assert_eq!(series("synctv_connections_per_room"), 2, "{text}");
        assert_eq!(series("synctv_connections_per_user"), 1, "{text}");
        let busiest = format!(r#"room="{}""#, rooms[2]);
        assert_eq!(
            app.metric_where("synctv_connections_per_room", &[&busiest])
                .await,
            Some(3.0)
        );
        let quiet = format!(r#"room="{}""#, rooms[0]);
        assert_eq!(
            app.metric_where("synctv_connections_per_room", &[&quiet])
                .await,
            None
        );
        let per_room = app
            .metric_where(
                "synctv_events_published_total",
                &[&busiest, r#"type="member_joined""#],
            )
            .await;
        assert_eq!(per_room, opt_in.then_some(1.0), "opted in: {opt_in}");
        app.stop().await;
    }
}
