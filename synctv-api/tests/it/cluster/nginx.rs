//! Three nodes behind a real nginx running the shipped `deploy/nginx/synctv.conf`, the site
//! config of docker-compose.yml's load balancer (asserted first; only its server list and
//! port swapped, see `synctv_testkit::Nginx`): REST and WebSocket upgrades go
//! through it, clients spread over every node, and room traffic published on several nodes
//! at once still reaches every client exactly once, in seq order; a client resumes through
//! it with since/epoch, on whichever node nginx picks.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use reqwest::StatusCode;
use serde_json::{Value, json};
use synctv_testkit::Nginx;

use super::*;

const CLIENTS: usize = 6;
const PER_PUBLISHER: usize = 30;

/// HTTP and WebSocket access to the cluster through nginx only.
struct Lb {
    addr: String,
    http: reqwest::Client,
}

impl Lb {
    async fn send(&self, req: reqwest::RequestBuilder, token: Option<&str>) -> (StatusCode, Value) {
        let req = match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await.expect("http request through nginx");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("not JSON through nginx ({status}): {text}"));
        (status, body)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let url = format!("http://{}{path}", self.addr);
        self.send(self.http.get(url), None).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        let url = format!("http://{}{path}", self.addr);
        self.send(self.http.post(url).json(&body), token).await
    }

    async fn register(&self, name: &str) -> User {
        let (status, body) = self
            .post(
                "/api/auth/register",
                None,
                json!({"username": name, "password": "secret-pw"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "register {name}: {body}");
        User {
            user_id: body["user_id"].as_str().unwrap().into(),
            username: name.into(),
            token: body["token"].as_str().unwrap().into(),
        }
    }

    /// A recording client of `user` in `room`, upgraded through nginx, after its welcome.
    async fn record(&self, room: &str, user: &User, query: &str, name: &str) -> Recording {
        let url = format!(
            "ws://{}/api/rooms/{room}/ws?token={}{query}",
            self.addr, user.token
        );
        let r = match WsClient::connect(&url).await {
            Ok(c) => c.record(name),
            Err((status, body)) => panic!("{name}: upgrade through nginx refused {status}: {body}"),
        };
        r.wait("welcome", |f| !f.is_empty()).await;
        r
    }
}

fn node_of(r: &Recording) -> String {
    let w = &r.welcomes()[0];
    assert_eq!(
        w["type"], "welcome",
        "{}: first frame is welcome: {w}",
        r.name
    );
    w["node_id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn room_traffic_through_nginx_arrives_once_in_order_on_every_node() {
    // What runs here is what docker-compose.yml runs.
    crate::deploy::compose::assert_compose_nginx_runs(&Nginx::shipped_config());
    let cluster = Cluster::start(3).await;
    let addrs: Vec<String> = cluster.nodes.iter().map(|n| n.addr.to_string()).collect();
    let nginx = Nginx::start(&addrs);
    let lb = Lb {
        addr: nginx.addr(),
        http: reqwest::Client::new(),
    };
    let mut node_ids = BTreeSet::new();
    for n in &cluster.nodes {
        let (_, body) = n.get("/health", None).await;
        node_ids.insert(body["node_id"].as_str().unwrap().to_string());
    }

    // /health through nginx: ok, and answered by every node in turn.
    let mut answered = BTreeSet::new();
    for _ in 0..6 {
        let (status, body) = lb.get("/health").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "ok");
        answered.insert(body["node_id"].as_str().unwrap().to_string());
    }
    assert_eq!(answered, node_ids, "nginx spreads requests over every node");

    // The room, over REST through nginx (each call may land on another node).
    let owner = lb.register(&format!("owner{}", rand_suffix())).await;
    let (status, room) = lb
        .post(
            "/api/rooms",
            Some(&owner.token),
            json!({"name": "behind nginx"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "create room: {room}");
    let room = room["room_id"].as_str().unwrap().to_string();
    let (status, movie) = lb
        .post(
            &format!("/api/rooms/{room}/movies"),
            Some(&owner.token),
            json!({"url": "https://example.com/film.mp4", "title": "film"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "add movie: {movie}");
    let mut users = Vec::new();
    for i in 0..CLIENTS {
        users.push(lb.register(&format!("lb{i}-{}", rand_suffix())).await);
    }

    // Sockets through nginx: least_conn puts them on every node.
    let mut clients = Vec::new();
    for (i, user) in users.iter().enumerate() {
        clients.push(lb.record(&room, user, "", &format!("c{i}")).await);
    }
    let mut per_node: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, c) in clients.iter().enumerate() {
        per_node.entry(node_of(c)).or_default().push(i);
    }
    assert_eq!(
        per_node.keys().cloned().collect::<BTreeSet<_>>(),
        node_ids,
        "the sockets landed on every node: {per_node:?}\n{}",
        nginx.access_log()
    );

    // One publisher per node, all at once, interleaving freely.
    let publishers: Vec<usize> = per_node.values().map(|v| v[0]).collect();
    let mut refs = Vec::new();
    for round in 0..PER_PUBLISHER {
        for &p in &publishers {
            let text = format!("p{p}-{round}");
            let r = clients[p]
                .send_ref(json!({"type": "chat", "text": text}))
                .await;
            refs.push((p, r));
        }
    }
    let mut acked = Vec::new();
    for (p, r) in &refs {
        let a = clients[*p].answer(r).await;
        assert_eq!(a["type"], "ack", "chat acknowledged through nginx: {a}");
        acked.push(a["seq"].as_u64().unwrap());
    }
    let unique: HashSet<_> = acked.iter().collect();
    assert_eq!(unique.len(), acked.len(), "every chat got its own seq");
    let last = *acked.iter().max().unwrap();
    acked.sort_unstable();

    // Every client: gapless from its welcome, every chat once, the same event at each seq.
    let reference: BTreeMap<u64, String> = event_ids(&clients[0]).into_iter().collect();
    for c in &clients {
        c.wait_seq(last).await;
        assert_gapless(c, last);
        let chats: Vec<u64> = c
            .since_last_welcome()
            .1
            .iter()
            .filter(|e| e["kind"] == "chat" && e["seq"].as_u64() <= Some(last))
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(chats, acked, "{}: every acked chat once, in order", c.name);
        for (seq, id) in event_ids(c) {
            if let Some(want) = reference.get(&seq) {
                assert_eq!(&id, want, "{}: seq {seq} is one event everywhere", c.name);
            }
        }
    }

    // Resume through nginx: a listener leaves, misses chats from every node, comes back
    // with since/epoch, and gets exactly what it missed. (least_conn sends it to the node
    // with the free slot, usually the one it left; delivery.rs resumes on another node.)
    let mover_at = (0..CLIENTS)
        .rev()
        .find(|i| !publishers.contains(i))
        .unwrap();
    let mover = clients.remove(mover_at);
    let publishers: Vec<usize> = publishers
        .iter()
        .map(|&p| if p > mover_at { p - 1 } else { p })
        .collect();
    let epoch = mover.welcomes()[0]["epoch"].as_str().unwrap().to_string();
    let seen = *event_ids(&mover).iter().map(|(s, _)| s).max().unwrap();
    mover.close().await;
    let mut missed_last = last;
    for &p in &publishers {
        missed_last = missed_last.max(clients[p].chat(&format!("missed {p}")).await);
    }
    let steady = &clients[0];
    steady.wait_seq(missed_last).await;
    let back = lb
        .record(
            &room,
            &users[mover_at],
            &format!("&since={seen}&epoch={epoch}"),
            "back",
        )
        .await;
    back.wait_seq(missed_last).await;
    let frames = back.frames();
    assert_eq!(frames[0]["resumed"], true, "{}", frames[0]);
    let replayed: Vec<(u64, String)> = frames[1..]
        .iter()
        .filter(|f| f["type"] == "event" && f["seq"].as_u64().unwrap() <= missed_last)
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["event_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(u64, String)> = event_ids(steady)
        .into_iter()
        .filter(|(s, _)| *s > seen && *s <= missed_last)
        .collect();
    let missed_chats = frames[1..]
        .iter()
        .filter(|f| {
            f["kind"] == "chat"
                && f["data"]["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("missed "))
        })
        .count();
    assert_eq!(missed_chats, publishers.len(), "{frames:?}");
    assert_eq!(
        replayed, want,
        "the replay through nginx is exactly what was missed"
    );

    drop((clients, back));
    drop(nginx);
    cluster.stop().await;
}
