//! The event hot path: encode once, assign the seq, apply to the room state, queue the same
//! bytes on every subscriber. Measures one published event for rooms of 1, 100 and 1000
//! local sockets (queue pushes only: the socket writes are the writer tasks' job), plus the
//! one-time encoding alone.
//!
//! `cargo bench -p synctv-cluster --bench fanout`

use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use synctv_cluster::history::HistoryLimits;
use synctv_cluster::manager::Joiner;
use synctv_cluster::outbound::{Outbound, channel};
use synctv_core::event::{EventDraft, RoomEvent};
use synctv_core::ids::{ConnId, MessageId, NodeId, UserId};
use synctv_core::model::{ChatMessage, Role};
use tokio::sync::mpsc::Receiver;

fn chat() -> RoomEvent {
    RoomEvent::Chat(ChatMessage {
        message_id: MessageId::generate(),
        user_id: UserId::from("0196a0b1-6a2e-7c3d-9f10-2b3c4d5e6f70"),
        username: "alice".into(),
        text: "is everyone here? starting the movie in a minute".into(),
    })
}

fn encode(c: &mut Criterion) {
    let draft = EventDraft::new(NodeId::generate(), chat());
    let mut seq = 0;
    c.bench_function("encode_chat_event", |b| {
        b.iter(|| {
            seq += 1;
            draft.encode(seq)
        })
    });
}

fn fanout(c: &mut Criterion) {
    const QUEUE: usize = 1024;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("publish_fanout");
    for subscribers in [1usize, 100, 1000] {
        let (mgr, room, mut receivers) = rt.block_on(async {
            let history = HistoryLimits {
                size: 1000,
                ttl_ms: 300_000,
            };
            let name = format!("b{subscribers}");
            let (mgr, room, _) = support::sqlite_manager(dir.path(), &name, history, 50).await;
            let mut receivers: Vec<Receiver<Outbound>> = Vec::new();
            let mut memberships = Vec::new();
            for n in 0..subscribers {
                let (tx, rx) = channel(ConnId(n as u64 + 1), QUEUE, 0);
                let who = Joiner {
                    user_id: UserId::from(format!("u{n}")),
                    username: format!("u{n}"),
                    role: Role::Member,
                    permissions: None,
                };
                memberships.push(mgr.join(&room, who, tx, None).await.unwrap().membership);
                receivers.push(rx);
            }
            std::mem::forget(memberships); // stay joined for the whole benchmark
            (mgr, room, receivers)
        });
        group.throughput(Throughput::Elements(subscribers as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(subscribers),
            &subscribers,
            |b, _| {
                b.iter_custom(|iters| {
                    let mut spent = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        // Empty the queues (untimed), then publish up to a queue's worth (timed).
                        for rx in &mut receivers {
                            while rx.try_recv().is_ok() {}
                        }
                        let batch = left.min(QUEUE as u64 / 2);
                        let events: Vec<RoomEvent> = (0..batch).map(|_| chat()).collect();
                        let start = Instant::now();
                        rt.block_on(async {
                            let g = mgr.lock_room(&room).await;
                            for e in events {
                                g.publish(e).await.unwrap();
                            }
                        });
                        spent += start.elapsed();
                        left -= batch;
                    }
                    spent
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, encode, fanout);
criterion_main!(benches);
