//! ClusterManager against a real (SQLite) store: snapshots taken while events are being
//! published line up exactly with the events that follow them.

mod support;

use bytes::Bytes;
use serde_json::Value;
use synctv_cluster::history::HistoryLimits;
use synctv_cluster::manager::{ClusterManager, Joiner};
use synctv_cluster::outbound::{Outbound, channel};
use synctv_core::event::RoomEvent;
use synctv_core::ids::{ConnId, MessageId, RoomId, UserId};
use synctv_core::model::{ChatMessage, Role};
use synctv_core::store::{RoomLock, Store};

async fn setup(dir: &tempfile::TempDir) -> (ClusterManager, RoomId, Store) {
    let history = HistoryLimits {
        size: 10_000,
        ttl_ms: 60_000,
    };
    support::sqlite_manager(dir.path(), "t", history, 10_000).await
}

fn chat(i: usize) -> ChatMessage {
    ChatMessage {
        message_id: MessageId::generate(),
        user_id: UserId::from("owner"),
        username: "owner".into(),
        text: format!("{i}"),
    }
}

fn frame_json(b: &Bytes) -> Value {
    serde_json::from_slice(b).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn joins_during_a_burst_get_snapshots_that_line_up_with_their_events() {
    let dir = tempfile::tempdir().unwrap();
    let (mgr, room, store) = setup(&dir).await;
    const CHATS: usize = 400;
    let publisher = tokio::spawn({
        let (mgr, room) = (mgr.clone(), room.clone());
        async move {
            // Like the chat service: store, publish, commit, under the room lock.
            for i in 0..CHATS {
                let g = mgr.lock_room(&room).await;
                let msg = chat(i);
                let ts = synctv_core::time::now_ms();
                let mut tx = store.room_tx(&room, RoomLock::Change).await.unwrap();
                tx.insert_chat(&msg, ts).await.unwrap();
                g.commit(tx, vec![(RoomEvent::Chat(msg), ts)])
                    .await
                    .unwrap();
            }
        }
    });
    let mut joiners = Vec::new();
    for n in 0..16u64 {
        let (mgr, room) = (mgr.clone(), room.clone());
        joiners.push(tokio::spawn(async move {
            tokio::task::yield_now().await;
            let (tx, rx) = channel(ConnId(n + 1), 100_000, 0);
            let who = Joiner {
                user_id: UserId::from(format!("u{n}")),
                username: format!("u{n}"),
                role: Role::Member,
                permissions: None,
            };
            let joined = mgr.join(&room, who, tx, None).await.unwrap();
            let snapshot: Value = serde_json::from_str(joined.snapshot.get()).unwrap();
            let chats_in_snapshot: Vec<usize> = snapshot["recent_chat"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["text"].as_str().unwrap().parse().unwrap())
                .collect();
            (joined.seq, chats_in_snapshot, joined.membership, rx)
        }));
    }
    let mut results = Vec::new();
    for j in joiners {
        results.push(j.await.unwrap());
    }
    publisher.await.unwrap();
    // Publishing queues synchronously: with the burst and every join done, all frames are
    // already in the queues.
    for (seq, snapshot_chats, membership, mut rx) in results {
        let frames: Vec<Value> = std::iter::from_fn(|| rx.try_recv().ok())
            .filter_map(|o| match o {
                Outbound::Frame(f) => Some(frame_json(&f)),
                Outbound::Ping => None,
            })
            .collect();
        // The snapshot holds a gapless prefix of the chat: 0..k.
        assert!(
            snapshot_chats.iter().enumerate().all(|(i, c)| i == *c),
            "{snapshot_chats:?}"
        );
        let seqs: Vec<u64> = frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
        assert_eq!(
            seqs.first(),
            Some(&(seq + 1)),
            "first event is welcome.seq + 1"
        );
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "gapless, in order"
        );
        // The first chat after the snapshot is exactly the next one.
        let next_chat = frames.iter().find(|f| f["kind"] == "chat").map(|f| {
            f["data"]["text"]
                .as_str()
                .unwrap()
                .parse::<usize>()
                .unwrap()
        });
        if let Some(next) = next_chat {
            assert_eq!(
                next,
                snapshot_chats.len(),
                "no chat both in the snapshot and the stream, none in neither"
            );
        } else {
            assert_eq!(snapshot_chats.len(), CHATS, "joined after the burst");
        }
        membership.leave().await.unwrap();
    }
    assert_eq!(mgr.member_count(&room).await, 0);
}

#[tokio::test]
async fn presence_counts_connections_and_idle_rooms_leave_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (mgr, room, _) = setup(&dir).await;
    let who = || Joiner {
        user_id: UserId::from("alice"),
        username: "alice".into(),
        role: Role::Member,
        permissions: None,
    };
    let (tx1, mut rx1) = channel(ConnId(1), 100, 0);
    let (tx2, _rx2) = channel(ConnId(2), 100, 0);
    let j1 = mgr.join(&room, who(), tx1, None).await.unwrap();
    let j2 = mgr.join(&room, who(), tx2, None).await.unwrap();
    assert_eq!(
        j2.seq,
        j1.seq + 1,
        "only the first connection published member_joined"
    );
    assert_eq!(mgr.member_count(&room).await, 1);
    j2.membership.leave().await.unwrap();
    assert_eq!(mgr.member_count(&room).await, 1, "still connected once");
    j1.membership.leave().await.unwrap();
    let kinds: Vec<String> = std::iter::from_fn(|| rx1.try_recv().ok())
        .map(|o| match o {
            Outbound::Frame(f) => frame_json(&f)["kind"].as_str().unwrap().to_string(),
            Outbound::Ping => "ping".into(),
        })
        .collect();
    assert_eq!(
        kinds,
        ["member_joined"],
        "the last connection's leave is published after it unsubscribed"
    );
    assert_eq!(mgr.member_count(&room).await, 0);
    mgr.sweep(synctv_core::time::now_ms());
    assert_eq!(
        mgr.hub().room_count(),
        0,
        "a room without sockets is dropped from memory"
    );
}

#[tokio::test]
async fn joining_a_missing_room_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mgr, _, _) = setup(&dir).await;
    let (tx, _rx) = channel(ConnId(1), 10, 0);
    let who = Joiner {
        user_id: UserId::from("a"),
        username: "a".into(),
        role: Role::Member,
        permissions: None,
    };
    let err = mgr
        .join(&RoomId::from("nope"), who, tx, None)
        .await
        .err()
        .expect("no such room");
    assert!(matches!(err, synctv_cluster::Error::RoomNotFound));
    mgr.sweep(synctv_core::time::now_ms());
    assert_eq!(mgr.hub().room_count(), 0);
}
