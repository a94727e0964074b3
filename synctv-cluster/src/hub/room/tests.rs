use bytes::Bytes;
use synctv_core::event::{EventDraft, RoomEvent};
use synctv_core::ids::{ConnId, Epoch, MovieId, NodeId, RoomId, UserId};
use synctv_core::model::{PlaybackState, RoomInfo, RoomSettings};
use synctv_core::room_state::RoomState;

use super::*;
use crate::outbound::{Outbound, channel};

fn state() -> RoomState {
    let info = RoomInfo {
        room_id: RoomId::from("r"),
        name: "r".into(),
        owner_id: UserId::from("o"),
        has_password: false,
        settings: RoomSettings::default(),
        created_at_ms: 0,
        version: 0,
    };
    RoomState::new(info, vec![], PlaybackState::default(), vec![], 10)
}

fn publication(seq: u64, epoch: &str) -> Publication {
    let d = EventDraft::new(
        NodeId::from("n"),
        RoomEvent::MovieRemoved {
            movie_id: MovieId::from(format!("m{seq}")),
        },
    );
    Publication::of(&d, seq, Epoch::from(epoch))
}

fn welcome(_: ConnId, p: &StreamPosition, _: &serde_json::value::RawValue) -> Bytes {
    Bytes::from(format!("welcome {} {}", p.epoch, p.seq))
}

/// A live room at seq `at` of epoch "e" with one subscriber.
fn live(at: u64) -> (RoomLocal, tokio::sync::mpsc::Receiver<Outbound>) {
    let mut r = RoomLocal::default();
    let (tx, rx) = channel(ConnId(1), 1000, 0);
    r.begin_load();
    let pos = StreamPosition {
        seq: at,
        epoch: Epoch::from("e"),
    };
    assert_eq!(
        r.install(state(), pos, &welcome, &ClusterMetrics::default()),
        Offer::Done
    );
    r.subscribers.push(tx);
    (r, rx)
}

fn seqs(rx: &mut tokio::sync::mpsc::Receiver<Outbound>) -> Vec<u64> {
    let mut out = Vec::new();
    while let Ok(Outbound::Frame(f)) = rx.try_recv() {
        let v: serde_json::Value = serde_json::from_slice(&f).unwrap();
        out.push(v["seq"].as_u64().unwrap());
    }
    out
}

#[test]
fn events_are_delivered_once_in_seq_order_whatever_the_arrival_order() {
    let m = ClusterMetrics::default();
    let (mut r, mut rx) = live(0);
    assert_eq!(
        r.offer(publication(2, "e"), Source::Own, &m),
        Offer::Gap { urgent: false }
    );
    assert_eq!(
        r.offer(publication(1, "e"), Source::Remote, &m),
        Offer::Done
    );
    assert_eq!(
        r.offer(publication(2, "e"), Source::Remote, &m),
        Offer::Done
    );
    assert_eq!(r.offer(publication(1, "e"), Source::Fill, &m), Offer::Done);
    assert_eq!(
        r.offer(publication(3, "e"), Source::Remote, &m),
        Offer::Done
    );
    assert_eq!(seqs(&mut rx), [1, 2, 3]);
    assert_eq!(r.position.as_ref().unwrap().seq, 3);
}

#[test]
fn a_gap_the_subscription_has_passed_is_urgent() {
    let m = ClusterMetrics::default();
    let (mut r, mut rx) = live(5);
    // 6 never came through the subscription, 7 did: 6 was lost.
    assert_eq!(
        r.offer(publication(7, "e"), Source::Remote, &m),
        Offer::Gap { urgent: true }
    );
    assert_eq!(r.missing().map(|(p, upto)| (p.seq, upto)), Some((5, 6)));
    assert!(seqs(&mut rx).is_empty(), "7 waits for 6");
    assert_eq!(r.offer(publication(6, "e"), Source::Fill, &m), Offer::Done);
    assert_eq!(seqs(&mut rx), [6, 7]);
}

#[test]
fn own_events_on_their_way_back_are_not_a_loss() {
    let m = ClusterMetrics::default();
    let (mut r, mut rx) = live(0);
    // The subscription carried our own 1 (echo, dropped) and another node's 2, before the
    // reply to our publish of 1 came back.
    assert_eq!(r.note_echo(&Epoch::from("e"), 1), Offer::Done);
    assert_eq!(
        r.offer(publication(2, "e"), Source::Remote, &m),
        Offer::Gap { urgent: false }
    );
    assert_eq!(r.offer(publication(1, "e"), Source::Own, &m), Offer::Done);
    assert_eq!(seqs(&mut rx), [1, 2]);
}

#[test]
fn another_epoch_asks_for_a_reload_and_a_reload_sends_a_fresh_welcome() {
    let m = ClusterMetrics::default();
    let (mut r, mut rx) = live(3);
    assert_eq!(
        r.offer(publication(4, "other"), Source::Remote, &m),
        Offer::Resync
    );
    r.begin_load();
    assert!(r.offer(publication(1, "other"), Source::Remote, &m) == Offer::Done);
    let pos = StreamPosition {
        seq: 0,
        epoch: Epoch::from("other"),
    };
    assert_eq!(r.install(state(), pos, &welcome, &m), Offer::Done);
    let first = rx.try_recv().unwrap();
    assert!(matches!(first, Outbound::Frame(f) if f == "welcome other 0"));
    assert_eq!(
        seqs(&mut rx),
        [1],
        "held during the load, delivered after the welcome"
    );
}

#[test]
fn detaching_continues_in_a_local_epoch_with_a_fresh_welcome() {
    let m = ClusterMetrics::default();
    let (mut r, mut rx) = live(2);
    r.offer(publication(4, "e"), Source::Own, &m);
    assert!(r.detach(&welcome));
    assert!(!r.detach(&welcome), "once");
    let Outbound::Frame(w) = rx.try_recv().unwrap() else {
        panic!("welcome expected")
    };
    let w = String::from_utf8(w.to_vec()).unwrap();
    assert!(w.ends_with(" 4"), "held events are in the snapshot: {w}");
    assert!(!w.contains(" e "), "a new epoch: {w}");
    let d = EventDraft::new(NodeId::from("n"), RoomEvent::RoomDeleted {});
    let p = r.publish_local(&d, &m).unwrap();
    assert_eq!(p.seq, 5);
    assert_eq!(seqs(&mut rx), [5]);
    assert_eq!(
        r.offer(publication(5, "e"), Source::Remote, &m),
        Offer::Done,
        "the broker's events wait for reconciliation"
    );
    assert!(r.deleted, "room_deleted closes the room");
}
