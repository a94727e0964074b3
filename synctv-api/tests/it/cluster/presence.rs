//! Cluster-wide presence, room state as a function of the stream, playback races, cache
//! invalidation across nodes.

use serde_json::json;

use super::*;

fn kinds(r: &Recording) -> Vec<String> {
    r.since_last_welcome()
        .1
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn presence_is_cluster_wide() {
    let cluster = Cluster::start(3).await;
    let (owner, room, _) = room_with_movie(cluster.node(0), json!({})).await;
    let observer = cluster.node(2).record(&room, &owner, "", "observer").await;
    observer.wait("welcome", |f| !f.is_empty()).await;
    let u = cluster.node(0).register("roamer").await;
    let a = cluster.node(0).record(&room, &u, "", "on-0").await;
    let joined = observer.frames().len();
    observer
        .wait("member_joined", |f| {
            f.iter()
                .any(|e| e["kind"] == "member_joined" && e["data"]["username"] == "roamer")
        })
        .await;
    let b = cluster.node(1).record(&room, &u, "", "on-1").await;
    b.wait("welcome", |f| !f.is_empty()).await;
    // A third node's snapshot lists the user once with both connections.
    let late = cluster.node(2).register("late").await;
    let l = cluster.node(2).record(&room, &late, "", "late").await;
    l.wait("welcome", |f| !f.is_empty()).await;
    let w = &l.welcomes()[0];
    let roamer: Vec<_> = w["room"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["username"] == "roamer")
        .collect();
    assert_eq!(roamer.len(), 1, "listed once: {w}");
    assert_eq!(roamer[0]["connections"], 2, "both nodes' connections: {w}");
    assert_eq!(roamer[0]["role"], "member");
    for n in &cluster.nodes {
        let (_, body) = n
            .get(&format!("/api/rooms/{room}"), Some(&owner.token))
            .await;
        assert_eq!(
            body["member_count"], 3,
            "owner, roamer, late: the same on every node"
        );
    }
    // Leaving one node is not leaving the room.
    a.close().await;
    let seq = cluster.node(1).record(&room, &late, "", "late-1").await;
    drop(seq);
    b.close().await;
    observer
        .wait("member_left", |f| {
            f.iter()
                .any(|e| e["kind"] == "member_left" && e["data"]["username"] == "roamer")
        })
        .await;
    let k = kinds(&observer);
    assert_eq!(
        k.iter().filter(|k| *k == "member_joined").count(),
        3,
        "the observer itself, roamer and late joined once each: {k:?}"
    );
    let roamer_left = observer
        .frames()
        .iter()
        .filter(|e| e["kind"] == "member_left" && e["data"]["username"] == "roamer")
        .count();
    assert_eq!(roamer_left, 1, "left once, after the last connection");
    assert!(observer.frames().len() > joined);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_racing_a_playback_change_exactly_one_wins() {
    let cluster = Cluster::start(2).await;
    let (owner, room, movie) = room_with_movie(cluster.node(0), json!({})).await;
    let mut a = cluster.node(0).record(&room, &owner, "", "a").await;
    let bob = cluster.node(1).register("bob").await;
    let mut b = cluster.node(1).record(&room, &bob, "", "b").await;
    let r = a
        .send_ref(json!({"type": "playback", "action": "set_movie", "movie_id": movie}))
        .await;
    let set = a.answer(&r).await;
    assert_eq!(set["type"], "ack");
    b.wait_seq(set["seq"].as_u64().unwrap()).await;
    // Both start from version 1 at the same time, through different nodes.
    for round in 0..5u64 {
        let base = 1 + round;
        let ra = a
            .send_ref(json!({"type": "playback", "action": "seek", "position_ms": 1000 + round, "base_version": base}))
            .await;
        let rb = b
            .send_ref(json!({"type": "playback", "action": "seek", "position_ms": 2000 + round, "base_version": base}))
            .await;
        let (xa, xb) = (a.answer(&ra).await, b.answer(&rb).await);
        let outcomes = [xa["type"].clone(), xb["type"].clone()];
        assert!(
            outcomes.contains(&json!("ack")) && outcomes.contains(&json!("error")),
            "exactly one wins: {xa} {xb}"
        );
        let loser = if xa["type"] == "error" { &xa } else { &xb };
        assert_eq!(loser["code"], "version_conflict");
        let winner = if xa["type"] == "ack" { &xa } else { &xb };
        let seq = winner["seq"].as_u64().unwrap();
        a.wait_seq(seq).await;
        b.wait_seq(seq).await;
    }
    // Everyone converged on the same state, which is the stored one.
    let last = |r: &Recording| {
        r.since_last_welcome()
            .1
            .iter()
            .rev()
            .find(|e| e["kind"] == "playback")
            .map(|e| {
                (
                    e["data"]["version"].clone(),
                    e["data"]["position_ms"].clone(),
                )
            })
            .unwrap()
    };
    assert_eq!(last(&a), last(&b));
    assert_eq!(last(&a).0, 6);
    for n in &cluster.nodes {
        let (_, body) = n
            .get(&format!("/api/rooms/{room}"), Some(&owner.token))
            .await;
        assert_eq!(body["playback"]["version"], 6);
        assert_eq!(body["playback"]["position_ms"], last(&a).1);
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_on_one_node_invalidate_every_nodes_cache() {
    let cluster = Cluster::start(2).await;
    let owner = cluster.node(0).register("owner").await;
    let room = cluster
        .node(0)
        .create_room(&owner, json!({"name": "locked", "password": "first-pw"}))
        .await;
    let room = room["room_id"].as_str().unwrap();
    let guest = cluster.node(1).register("visitor").await;
    // Node 1 caches the room (and its password hash) while admitting the visitor.
    let v = cluster
        .node(1)
        .record(room, &guest, "&password=first-pw", "visitor")
        .await;
    v.wait("welcome", |f| !f.is_empty()).await;
    v.close().await;
    let (status, _) = cluster
        .node(0)
        .patch(
            &format!("/api/rooms/{room}"),
            Some(&owner.token),
            json!({"password": "second-pw"}),
        )
        .await;
    assert_eq!(status, 200);
    eventually("node 1 forgets the old password", || async {
        cluster
            .node(1)
            .try_ws(room, &guest.token, "&password=first-pw")
            .await
            .is_err_and(|(s, b)| s == 403 && b["error"]["code"] == "wrong_room_password")
    })
    .await;
    let ok = cluster
        .node(1)
        .try_ws(room, &guest.token, "&password=second-pw")
        .await;
    assert!(ok.is_ok(), "the new password works on node 1");
    assert!(
        cluster
            .node(1)
            .metric("synctv_cache_invalidations_total")
            .await
            >= 1.0
    );
    assert!(cluster.node(1).metric("synctv_cache_hits_total").await >= 0.0);
    cluster.stop().await;
}
