//! The contract every `Broker` meets, written once and run against each implementation
//! (in-process bus, Redis, Redis Cluster): two nodes, each a broker with a recording sink.

use std::sync::Arc;

use synctv_cluster::broker::{Broker, EventMeta, RoomControl};
use synctv_core::event::{EventDraft, MemberInfo, RoomEvent};
use synctv_core::ids::{MovieId, NodeId, RoomId, UserId};
use synctv_core::model::Role;

use crate::support::recorder::Recorder;

/// One node of the pair under test.
pub struct Node {
    pub id: NodeId,
    pub broker: Arc<dyn Broker>,
    pub rec: Arc<Recorder>,
}

pub fn draft(node: &Node, n: u64) -> EventDraft {
    EventDraft::new(
        node.id.clone(),
        RoomEvent::MovieRemoved {
            movie_id: MovieId::from(format!("m{n}")),
        },
    )
}

pub fn member(id: &str) -> MemberInfo {
    MemberInfo {
        user_id: UserId::from(id),
        username: format!("user {id}"),
        role: Role::Member,
        permissions: None,
    }
}

fn joined_draft(node: &Node, m: &MemberInfo) -> EventDraft {
    EventDraft::new(node.id.clone(), RoomEvent::MemberJoined(m.clone()))
}

/// Seqs are gapless per room across nodes; each node receives the other's events, in
/// order, and never its own.
pub async fn seq_is_gapless_across_nodes(a: Node, b: Node) {
    let (r1, r2) = (RoomId::generate(), RoomId::generate());
    for n in [&a, &b] {
        n.broker.subscribe(&r1).await.unwrap();
        n.broker.subscribe(&r2).await.unwrap();
    }
    let mut got = Vec::new();
    for i in 0..6 {
        let n = if i % 2 == 0 { &a } else { &b };
        got.push(n.broker.publish(&r1, &draft(n, i)).await.unwrap().seq);
    }
    assert_eq!(got, [1, 2, 3, 4, 5, 6]);
    assert_eq!(b.broker.publish(&r2, &draft(&b, 0)).await.unwrap().seq, 1);
    a.rec
        .wait("a gets b's events", |r| r.seqs(&r1) == [2, 4, 6])
        .await;
    b.rec
        .wait("b gets a's events", |r| r.seqs(&r1) == [1, 3, 5])
        .await;
    a.rec.wait("room 2", |r| r.seqs(&r2) == [1]).await;
    assert!(
        b.rec.seqs(&r2).is_empty(),
        "a node never gets its own events back"
    );
    let pa = a.broker.read(&r1, 6, None).await.unwrap().position;
    let pb = b.broker.read(&r1, 6, None).await.unwrap().position;
    assert_eq!(pa, pb);
    assert_eq!(pa.seq, 6);
}

/// Concurrent publishers on both nodes: every seq handed out once, and each node sees the
/// whole stream (its own plus the other's) exactly once, the other's in order.
pub async fn concurrent_publishers_stay_ordered(a: Node, b: Node) {
    let room = RoomId::generate();
    a.broker.subscribe(&room).await.unwrap();
    b.broker.subscribe(&room).await.unwrap();
    let mut tasks = Vec::new();
    for n in [&a, &b] {
        for t in 0..4 {
            let (broker, room, id) = (n.broker.clone(), room.clone(), n.id.clone());
            tasks.push(tokio::spawn(async move {
                let node = Node {
                    id,
                    broker: broker.clone(),
                    rec: Recorder::new(),
                };
                let mut mine = Vec::new();
                for i in 0..50 {
                    mine.push(
                        broker
                            .publish(&room, &draft(&node, t * 100 + i))
                            .await
                            .unwrap()
                            .seq,
                    );
                }
                mine
            }));
        }
    }
    let mut own_a = Vec::new();
    let mut own_b = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let seqs = t.await.unwrap();
        if i < 4 {
            own_a.extend(seqs)
        } else {
            own_b.extend(seqs)
        }
    }
    let mut all: Vec<u64> = own_a.iter().chain(&own_b).copied().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (1..=400).collect::<Vec<_>>(),
        "each seq handed out once"
    );
    for (rec, others) in [(&a.rec, &own_b), (&b.rec, &own_a)] {
        rec.wait("the other node's events", |r| {
            r.seqs(&room).len() == others.len()
        })
        .await;
        let got = rec.seqs(&room);
        let mut want = others.clone();
        want.sort_unstable();
        assert_eq!(got, want, "received once each, in seq order");
    }
}

/// Many rooms published at once (the Redis broker sends what piles up as one script call,
/// per hash slot in a cluster): each room's seqs are its own and gapless, and the other node
/// gets each room's events once, in order.
pub async fn many_rooms_at_once_stay_separate(a: Node, b: Node) {
    let rooms: Vec<RoomId> = (0..24).map(|_| RoomId::generate()).collect();
    for r in &rooms {
        b.broker.subscribe(r).await.unwrap();
    }
    let mut tasks = Vec::new();
    for (i, room) in rooms.iter().enumerate() {
        for t in 0..3 {
            let (broker, room, id) = (a.broker.clone(), room.clone(), a.id.clone());
            tasks.push(tokio::spawn(async move {
                let node = Node {
                    id,
                    broker: broker.clone(),
                    rec: Recorder::new(),
                };
                let mut mine = Vec::new();
                for n in 0..10 {
                    let d = draft(&node, (i * 1000 + t * 100 + n) as u64);
                    mine.push(broker.publish(&room, &d).await.unwrap().seq);
                }
                (room, mine)
            }));
        }
    }
    let mut per_room: std::collections::HashMap<RoomId, Vec<u64>> = Default::default();
    for t in tasks {
        let (room, seqs) = t.await.unwrap();
        per_room.entry(room).or_default().extend(seqs);
    }
    for room in &rooms {
        let mut seqs = per_room.remove(room).unwrap();
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=30).collect::<Vec<_>>(), "room {room}");
    }
    b.rec
        .wait("every room's events", |r| {
            rooms.iter().all(|room| r.seqs(room).len() == 30)
        })
        .await;
    for room in &rooms {
        assert_eq!(
            b.rec.seqs(room),
            (1..=30).collect::<Vec<_>>(),
            "room {room}"
        );
    }
}

/// History is read together with the head: exactly the gap, byte-identical frames.
pub async fn history_replays_exactly_the_gap(a: Node, b: Node) {
    let room = RoomId::generate();
    a.broker.subscribe(&room).await.unwrap();
    let mut frames = Vec::new();
    for i in 0..6 {
        frames.push(a.broker.publish(&room, &draft(&a, i)).await.unwrap().frame);
    }
    let read = b.broker.read(&room, 2, Some(6)).await.unwrap();
    assert_eq!(read.position.seq, 6);
    let got: Vec<_> = read.events.unwrap().into_iter().map(|p| p.frame).collect();
    assert_eq!(got, frames[2..6].to_vec());
    let read = b.broker.read(&room, 2, None).await.unwrap();
    assert_eq!(read.events.unwrap().len(), 4, "up to the head by default");
    assert_eq!(
        b.broker
            .read(&room, 6, None)
            .await
            .unwrap()
            .events
            .unwrap()
            .len(),
        0
    );
    assert!(
        b.broker
            .read(&room, 7, None)
            .await
            .unwrap()
            .events
            .is_none(),
        "a point ahead of the stream is never a replay"
    );
    let fresh = RoomId::generate();
    let read = b.broker.read(&fresh, 0, None).await.unwrap();
    assert_eq!(read.position.seq, 0);
}

/// Old points are given up (resume is refused) once the history is past them; the newest
/// `history_size` events stay. Built with a history size of 4.
pub async fn history_is_bounded(a: Node) {
    let room = RoomId::generate();
    for i in 0..300 {
        a.broker.publish(&room, &draft(&a, i)).await.unwrap();
    }
    assert!(
        a.broker
            .read(&room, 0, None)
            .await
            .unwrap()
            .events
            .is_none()
    );
    let tail = a
        .broker
        .read(&room, 296, None)
        .await
        .unwrap()
        .events
        .unwrap();
    assert_eq!(
        tail.iter().map(|p| p.seq).collect::<Vec<_>>(),
        [297, 298, 299, 300]
    );
}

/// Presence is cluster-wide: first connection anywhere joins, last anywhere leaves.
pub async fn presence_counts_every_node(a: Node, b: Node) {
    let room = RoomId::generate();
    let u = member("u");
    let j = a
        .broker
        .join(&room, &u, &joined_draft(&a, &u))
        .await
        .unwrap();
    let first = j.event.expect("first connection anywhere: member_joined");
    assert!(matches!(&*first.event, RoomEvent::MemberJoined(m) if m == &u));
    assert_eq!(j.counts[&u.user_id], 1);
    let j = b
        .broker
        .join(&room, &u, &joined_draft(&b, &u))
        .await
        .unwrap();
    assert!(j.event.is_none(), "second connection: no event");
    assert_eq!(j.counts[&u.user_id], 2);
    assert_eq!(a.broker.member_count(&room).await.unwrap(), 1);
    let point = b.broker.load_point(&room).await.unwrap();
    assert_eq!(point.members, vec![(u.clone(), 2)]);
    assert_eq!(point.position.seq, first.seq);
    assert!(
        a.broker
            .leave(&room, &u.user_id, &EventMeta::new(a.id.clone()))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        a.broker
            .leave(&room, &u.user_id, &EventMeta::new(a.id.clone()))
            .await
            .unwrap()
            .is_none(),
        "a node cannot remove connections it did not register"
    );
    assert_eq!(a.broker.member_count(&room).await.unwrap(), 1);
    let left = b
        .broker
        .leave(&room, &u.user_id, &EventMeta::new(b.id.clone()))
        .await
        .unwrap();
    let left = left.expect("last connection anywhere: member_left");
    assert!(
        matches!(&*left.event, RoomEvent::MemberLeft(m) if m.user_id == u.user_id && m.username == u.username)
    );
    assert_eq!(left.seq, first.seq + 1);
    assert_eq!(b.broker.member_count(&room).await.unwrap(), 0);
}

/// A dead node's connections are removed: its users who were nowhere else leave.
pub async fn dropping_a_node_leaves_its_users(a: Node, b: Node) {
    let room = RoomId::generate();
    for m in [member("only-a"), member("both")] {
        a.broker
            .join(&room, &m, &joined_draft(&a, &m))
            .await
            .unwrap();
    }
    let both = member("both");
    b.broker
        .join(&room, &both, &joined_draft(&b, &both))
        .await
        .unwrap();
    let left = b
        .broker
        .drop_node(&room, &a.id, &EventMeta::new(b.id.clone()))
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert!(matches!(&*left[0].event, RoomEvent::MemberLeft(m) if m.user_id.as_str() == "only-a"));
    assert!(
        b.broker
            .drop_node(&room, &a.id, &EventMeta::new(b.id.clone()))
            .await
            .unwrap()
            .is_empty(),
        "idempotent"
    );
    assert_eq!(b.broker.member_count(&room).await.unwrap(), 1);
}

/// A node re-registers its presence after an outage: only real changes are published.
pub async fn presence_sync_publishes_only_changes(a: Node) {
    let room = RoomId::generate();
    for m in [member("stays"), member("goes")] {
        a.broker
            .join(&room, &m, &joined_draft(&a, &m))
            .await
            .unwrap();
    }
    let events = a
        .broker
        .sync_presence(
            &room,
            &[(member("stays"), 2), (member("new"), 1)],
            &EventMeta::new(a.id.clone()),
        )
        .await
        .unwrap();
    let kinds: Vec<_> = events.iter().map(|p| (p.event.kind(), p.seq)).collect();
    assert_eq!(kinds, [("member_left", 3), ("member_joined", 4)]);
    let point = a.broker.load_point(&room).await.unwrap();
    let mut members: Vec<_> = point
        .members
        .iter()
        .map(|(m, n)| (m.user_id.to_string(), *n))
        .collect();
    members.sort();
    assert_eq!(members, [("new".to_string(), 1), ("stays".to_string(), 2)]);
}

/// A new epoch starts the stream over and tells the other subscribed nodes.
pub async fn new_epoch_restarts_the_stream(a: Node, b: Node) {
    let room = RoomId::generate();
    b.broker.subscribe(&room).await.unwrap();
    a.broker.publish(&room, &draft(&a, 0)).await.unwrap();
    let before = a.broker.read(&room, 0, None).await.unwrap().position;
    let after = a.broker.new_epoch(&room).await.unwrap();
    assert_ne!(after.epoch, before.epoch);
    assert_eq!(after.seq, 0);
    b.rec
        .wait("the resync control", |r| {
            r.controls(&room)
                == [RoomControl::Resync {
                    epoch: after.epoch.clone(),
                }]
        })
        .await;
    let p = a.broker.publish(&room, &draft(&a, 1)).await.unwrap();
    assert_eq!((p.seq, p.epoch), (1, after.epoch.clone()));
    let read = b.broker.read(&room, 0, None).await.unwrap();
    assert_eq!(
        read.events.unwrap().len(),
        1,
        "the old epoch's history is gone"
    );
}

/// Only subscribed nodes receive a room's events; broadcasts reach every other node.
pub async fn subscriptions_and_broadcasts(a: Node, b: Node) {
    let room = RoomId::generate();
    a.broker.publish(&room, &draft(&a, 0)).await.unwrap();
    b.broker.subscribe(&room).await.unwrap();
    a.broker.publish(&room, &draft(&a, 1)).await.unwrap();
    b.rec
        .wait("after subscribing", |r| r.seqs(&room) == [2])
        .await;
    b.broker.unsubscribe(&room).await.unwrap();
    a.broker.publish(&room, &draft(&a, 2)).await.unwrap();
    a.broker.broadcast(b"hello").await.unwrap();
    b.rec
        .wait("the broadcast", |r| {
            r.broadcasts() == [bytes::Bytes::from_static(b"hello")]
        })
        .await;
    b.rec.quiet(&room, 1).await;
    assert!(a.rec.broadcasts().is_empty(), "not back to the sender");
}
