//! Exactly once, in order, on every node: a burst from publishers on every node at once,
//! clients joining during it, and a reconnect to another node with `since`.

use std::collections::{BTreeMap, HashSet};

use serde_json::json;

use super::*;

const NODES: usize = 3;
const PER_PUBLISHER: usize = 60;

/// Chat message ids by seq, from a recording that saw the whole stream.
fn chats_by_seq(r: &Recording) -> BTreeMap<u64, String> {
    r.since_last_welcome()
        .1
        .iter()
        .filter(|e| e["kind"] == "chat")
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["data"]["message_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_client_on_every_node_gets_every_event_once_in_order() {
    let cluster = Cluster::start(NODES).await;
    let (owner, room, _) = room_with_movie(cluster.node(0), json!({})).await;
    // Three members per node; the first of each node publishes.
    let mut clients = Vec::new();
    for i in 0..NODES * 3 {
        let node = cluster.node(i);
        let user = node.register(&format!("u{i}-{}", rand_suffix())).await;
        let r = node
            .record(&room, &user, "", &format!("c{i}@n{}", i % NODES))
            .await;
        r.wait("welcome", |f| !f.is_empty()).await;
        clients.push(r);
    }
    let observer = cluster.node(1).record(&room, &owner, "", "observer").await;
    observer.wait("welcome", |f| !f.is_empty()).await;

    // Publishers on every node at once, interleaving freely.
    let mut refs = Vec::new();
    for round in 0..PER_PUBLISHER {
        for (p, publisher) in clients.iter_mut().take(NODES).enumerate() {
            let r = publisher
                .send_ref(json!({"type": "chat", "text": format!("p{p}-{round}")}))
                .await;
            refs.push((p, r));
        }
    }
    let mut acked = Vec::new();
    for (p, r) in &refs {
        let a = clients[*p].answer(r).await;
        assert_eq!(a["type"], "ack", "chat acknowledged: {a}");
        acked.push(a["seq"].as_u64().unwrap());
    }
    let unique: HashSet<_> = acked.iter().collect();
    assert_eq!(unique.len(), acked.len(), "every chat got its own seq");
    let last = *acked.iter().max().unwrap();
    for c in clients.iter().chain([&observer]) {
        c.wait_seq(last).await;
    }
    // Every client: gapless from its welcome, and all agree on what each seq is.
    let reference: BTreeMap<u64, String> = event_ids(&clients[0]).into_iter().collect();
    for c in clients.iter().chain([&observer]) {
        assert_gapless(c, last);
        for (seq, id) in event_ids(c) {
            if let Some(want) = reference.get(&seq) {
                assert_eq!(
                    &id, want,
                    "{}: seq {seq} is the same event everywhere",
                    c.name
                );
            }
        }
    }
    let chats = chats_by_seq(&observer);
    assert_eq!(chats.len(), NODES * PER_PUBLISHER, "every chat once");
    // Per publisher, its chats keep their sending order.
    for p in 0..NODES {
        let texts: Vec<String> = observer
            .since_last_welcome()
            .1
            .iter()
            .filter(|e| e["kind"] == "chat")
            .filter_map(|e| e["data"]["text"].as_str().map(String::from))
            .filter(|t| t.starts_with(&format!("p{p}-")))
            .collect();
        let want: Vec<String> = (0..PER_PUBLISHER).map(|i| format!("p{p}-{i}")).collect();
        assert_eq!(texts, want);
    }
    // The same room over REST, whichever node answers.
    let mut counts = Vec::new();
    for n in &cluster.nodes {
        let (_, body) = n
            .get(&format!("/api/rooms/{room}"), Some(&owner.token))
            .await;
        counts.push(body["member_count"].clone());
    }
    assert_eq!(counts, vec![json!(NODES * 3 + 1); NODES]);
    let received = cluster.node(2).metric("synctv_events_received_total").await;
    assert!(received > 0.0, "node 2 received other nodes' events");
    let dedup = cluster
        .node(2)
        .metric("synctv_events_deduplicated_total")
        .await;
    assert!(dedup > 0.0, "its own echoes were dropped");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_joining_during_a_burst_get_snapshots_that_line_up() {
    let cluster = Cluster::start(NODES).await;
    let (owner, room, _) = room_with_movie(cluster.node(0), json!({})).await;
    let reference = cluster.node(0).record(&room, &owner, "", "reference").await;
    reference.wait("welcome", |f| !f.is_empty()).await;
    let mut publishers = Vec::new();
    for p in 0..NODES {
        let node = cluster.node(p);
        let user = node.register(&format!("pub{p}-{}", rand_suffix())).await;
        publishers.push(node.record(&room, &user, "", &format!("pub{p}")).await);
    }
    // Keep publishing from every node while joiners come in on every node.
    let burst = tokio::spawn(async move {
        let mut last = 0;
        for round in 0..40 {
            for (p, publisher) in publishers.iter_mut().enumerate() {
                last = last.max(publisher.chat(&format!("b{p}-{round}")).await);
            }
        }
        (publishers, last)
    });
    let mut joiners = Vec::new();
    for j in 0..9 {
        let node = cluster.node(j);
        let user = node.register(&format!("j{j}-{}", rand_suffix())).await;
        joiners.push(node.record(&room, &user, "", &format!("joiner{j}")).await);
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    }
    let (publishers, last) = burst.await.unwrap();
    reference.wait_seq(last).await;
    let all_chats = chats_by_seq(&reference);
    for j in &joiners {
        j.wait_seq(last).await;
        let (welcome, events) = j.since_last_welcome();
        let at = welcome["seq"].as_u64().unwrap();
        let in_snapshot: HashSet<String> = welcome["room"]["recent_chat"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["message_id"].as_str().unwrap().to_string())
            .collect();
        let before: HashSet<String> = all_chats.range(..=at).map(|(_, id)| id.clone()).collect();
        assert_eq!(
            in_snapshot, before,
            "{}: the snapshot holds exactly the chats up to welcome.seq {at}",
            j.name
        );
        assert_eq!(
            events.first().map(|e| e["seq"].clone()),
            Some(json!(at + 1))
        );
        assert_gapless(j, last);
        let after: Vec<&String> = all_chats.range(at + 1..).map(|(_, id)| id).collect();
        let got: Vec<String> = events
            .iter()
            .filter(|e| e["kind"] == "chat")
            .map(|e| e["data"]["message_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            got.iter().collect::<Vec<_>>(),
            after,
            "{}: and the stream the rest",
            j.name
        );
    }
    drop(publishers);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_resumes_on_another_node_with_since() {
    let cluster = Cluster::start(2).await;
    let (owner, room, _) = room_with_movie(cluster.node(0), json!({})).await;
    let steady = cluster.node(1).record(&room, &owner, "", "steady").await;
    let user = cluster.node(0).register("mover").await;
    let mut mover = cluster.node(0).record(&room, &user, "", "mover").await;
    mover.wait("welcome", |f| !f.is_empty()).await;
    let epoch = mover.welcomes()[0]["epoch"].as_str().unwrap().to_string();
    let seen = mover.chat("before").await;
    mover.wait_seq(seen).await;
    mover.close().await;
    // While it is away, both nodes publish.
    let talker = cluster.node(1).register("talker").await;
    let mut t = cluster.node(1).record(&room, &talker, "", "talker").await;
    let mut last = 0;
    for i in 0..5 {
        last = t.chat(&format!("missed {i}")).await;
    }
    let mut t0 = cluster.node(0).record(&room, &talker, "", "talker0").await;
    last = last.max(t0.chat("missed from node 0").await);
    steady.wait_seq(last).await;
    // Back, on the other node.
    let back = cluster
        .node(1)
        .record(
            &room,
            &user,
            &format!("&since={seen}&epoch={epoch}"),
            "back",
        )
        .await;
    back.wait_seq(last).await;
    let frames = back.frames();
    assert_eq!(frames[0]["type"], "welcome");
    assert_eq!(frames[0]["resumed"], true, "{}", frames[0]);
    let replayed: Vec<(u64, String)> = frames[1..]
        .iter()
        .filter(|f| f["type"] == "event" && f["seq"].as_u64().unwrap() <= last)
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["event_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(u64, String)> = event_ids(&steady)
        .into_iter()
        .filter(|(s, _)| *s > seen && *s <= last)
        .collect();
    assert_eq!(
        replayed, want,
        "the replay is exactly what was missed, from any node"
    );
    // A stale epoch gets a fresh snapshot instead.
    let stale = cluster
        .node(0)
        .record(
            &room,
            &user,
            &format!("&since={seen}&epoch=not-{epoch}"),
            "stale",
        )
        .await;
    stale.wait("welcome", |f| !f.is_empty()).await;
    assert_eq!(stale.frames()[0]["resumed"], false);
    cluster.stop().await;
}
