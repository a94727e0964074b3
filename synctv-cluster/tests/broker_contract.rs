//! The contract every `Broker` must meet, run against each implementation. The Redis
//! broker (cluster mode) runs the same `contract_*` functions.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use synctv_cluster::broker::{Broker, LocalBroker, Publication, PublicationHandler};
use synctv_cluster::history::HistoryLimits;
use synctv_core::event::{EventDraft, RoomEvent};
use synctv_core::ids::{Epoch, NodeId, RoomId};

/// Records every publication handed to this node, in arrival order.
#[derive(Default)]
struct Recorder(Mutex<Vec<(RoomId, u64, Bytes)>>);

impl PublicationHandler for Recorder {
    fn handle(&self, room: &RoomId, p: &Publication) {
        self.0
            .lock()
            .unwrap()
            .push((room.clone(), p.seq, p.frame.clone()));
    }
}

impl Recorder {
    fn seqs(&self, room: &RoomId) -> Vec<u64> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _, _)| r == room)
            .map(|(_, s, _)| *s)
            .collect()
    }
}

fn draft() -> EventDraft {
    EventDraft::new(NodeId::from("n1"), RoomEvent::RoomDeleted {})
}

fn local(size: usize, ttl_ms: u64) -> (Arc<dyn Broker>, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let broker = LocalBroker::new(HistoryLimits { size, ttl_ms }, rec.clone());
    (Arc::new(broker), rec)
}

async fn contract_seq_is_gapless_per_room(b: Arc<dyn Broker>, rec: Arc<Recorder>) {
    let (r1, r2) = (RoomId::generate(), RoomId::generate());
    b.subscribe(&r1).await.unwrap();
    b.subscribe(&r2).await.unwrap();
    for _ in 0..5 {
        b.publish(&r1, draft()).await.unwrap();
    }
    for _ in 0..3 {
        b.publish(&r2, draft()).await.unwrap();
    }
    assert_eq!(rec.seqs(&r1), [1, 2, 3, 4, 5]);
    assert_eq!(rec.seqs(&r2), [1, 2, 3]);
    assert_eq!(b.position(&r1).await.unwrap().seq, 5);
    assert_eq!(b.position(&r2).await.unwrap().seq, 3);
}

async fn contract_frames_carry_their_seq(b: Arc<dyn Broker>) {
    let room = RoomId::generate();
    b.subscribe(&room).await.unwrap();
    let p = b.publish(&room, draft()).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&p.frame).unwrap();
    assert_eq!(v["type"], "event");
    assert_eq!(v["seq"], p.seq);
    assert_eq!(v["kind"], "room_deleted");
}

async fn contract_concurrent_publishers_stay_ordered(b: Arc<dyn Broker>, rec: Arc<Recorder>) {
    let room = RoomId::generate();
    b.subscribe(&room).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (b, room) = (b.clone(), room.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..50 {
                b.publish(&room, draft()).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let seqs = rec.seqs(&room);
    assert_eq!(
        seqs,
        (1..=400).collect::<Vec<u64>>(),
        "delivered once each, in seq order"
    );
}

async fn contract_history_replays_exactly_the_gap(b: Arc<dyn Broker>) {
    let room = RoomId::generate();
    b.subscribe(&room).await.unwrap();
    let mut frames = Vec::new();
    for _ in 0..6 {
        frames.push(b.publish(&room, draft()).await.unwrap().frame);
    }
    let epoch = b.position(&room).await.unwrap().epoch;
    let got = b.history(&room, &epoch, 2, 6).await.unwrap().unwrap();
    assert_eq!(got, frames[2..6].to_vec());
    assert_eq!(
        b.history(&room, &epoch, 6, 6).await.unwrap().unwrap().len(),
        0
    );
    let other = Epoch::from("not-this-one");
    assert!(b.history(&room, &other, 2, 6).await.unwrap().is_none());
    assert!(b.history(&room, &epoch, 7, 6).await.unwrap().is_none());
}

async fn contract_history_is_bounded(b: Arc<dyn Broker>) {
    // Built with a history size of 4.
    let room = RoomId::generate();
    b.subscribe(&room).await.unwrap();
    for _ in 0..10 {
        b.publish(&room, draft()).await.unwrap();
    }
    let epoch = b.position(&room).await.unwrap().epoch;
    assert!(b.history(&room, &epoch, 5, 10).await.unwrap().is_none());
    assert_eq!(
        b.history(&room, &epoch, 6, 10)
            .await
            .unwrap()
            .unwrap()
            .len(),
        4
    );
}

#[tokio::test]
async fn local_seq_is_gapless_per_room() {
    let (b, rec) = local(100, 60_000);
    contract_seq_is_gapless_per_room(b, rec).await;
}

#[tokio::test]
async fn local_frames_carry_their_seq() {
    contract_frames_carry_their_seq(local(100, 60_000).0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_concurrent_publishers_stay_ordered() {
    let (b, rec) = local(1000, 60_000);
    contract_concurrent_publishers_stay_ordered(b, rec).await;
}

#[tokio::test]
async fn local_history_replays_exactly_the_gap() {
    contract_history_replays_exactly_the_gap(local(100, 60_000).0).await;
}

#[tokio::test]
async fn local_history_is_bounded() {
    contract_history_is_bounded(local(4, 60_000).0).await;
}

#[tokio::test]
async fn local_idle_streams_are_forgotten_and_get_a_new_epoch() {
    let rec = Arc::new(Recorder::default());
    let broker = LocalBroker::new(
        HistoryLimits {
            size: 10,
            ttl_ms: 1,
        },
        rec,
    );
    let room = RoomId::generate();
    broker.subscribe(&room).await.unwrap();
    broker.publish(&room, draft()).await.unwrap();
    let before = broker.position(&room).await.unwrap();
    let far_future = synctv_core::time::now_ms() + 60_000;
    broker.sweep(far_future);
    assert_eq!(broker.stream_count(), 1, "a subscribed stream is kept");
    broker.unsubscribe(&room).await.unwrap();
    broker.sweep(far_future);
    assert_eq!(
        broker.stream_count(),
        0,
        "an unsubscribed, expired stream costs nothing"
    );
    let after = broker.position(&room).await.unwrap();
    assert_ne!(after.epoch, before.epoch);
    assert_eq!(after.seq, 0);
}

#[tokio::test]
async fn local_unsubscribed_stream_keeps_history_until_ttl() {
    let rec = Arc::new(Recorder::default());
    let broker = LocalBroker::new(
        HistoryLimits {
            size: 10,
            ttl_ms: 60_000,
        },
        rec,
    );
    let room = RoomId::generate();
    broker.publish(&room, draft()).await.unwrap();
    broker.sweep(synctv_core::time::now_ms());
    let pos = broker.position(&room).await.unwrap();
    assert_eq!(pos.seq, 1, "recent history keeps the stream for resumes");
    assert_eq!(
        broker
            .history(&room, &pos.epoch, 0, 1)
            .await
            .unwrap()
            .unwrap()
            .len(),
        1
    );
}
