//! How many events per second one node publishes through Redis: `RedisBroker::publish`
//! (one EVALSHA per event: next seq, XADD to the room's capped stream, PEXPIREs, PUBLISH)
//! from many concurrent publishers over 100 and 1000 rooms, on one multiplexed connection,
//! so concurrent calls are pipelined on the wire. Criterion reports events/s
//! (`Throughput::Elements`). A second group runs with another node subscribed to every
//! room, so Redis also forwards each event and a subscriber decodes it (in this process).
//!
//! Needs the local Redis (`SYNCTV_TEST_REDIS_URL`, default redis://127.0.0.1:6379); keys
//! live under a unique prefix and are deleted at the end.
//!
//! `cargo bench -p synctv-cluster --bench redis_publish`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use synctv_cluster::broker::{Broker, BrokerSink, Publication, RoomControl};
use synctv_cluster::history::HistoryLimits;
use synctv_core::event::{EventDraft, RoomEvent};
use synctv_core::ids::{Epoch, MessageId, NodeId, RoomId, UserId};
use synctv_core::model::ChatMessage;
use tokio::runtime::Runtime;

/// The production defaults: the stream keeps the last 1000 events for 5 minutes.
const HISTORY: HistoryLimits = HistoryLimits {
    size: 1000,
    ttl_ms: 300_000,
};

fn redis_url() -> String {
    std::env::var("SYNCTV_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn chat(node: &NodeId) -> EventDraft {
    EventDraft::new(
        node.clone(),
        RoomEvent::Chat(ChatMessage {
            message_id: MessageId::generate(),
            user_id: UserId::from("0196a0b1-6a2e-7c3d-9f10-2b3c4d5e6f70"),
            username: "alice".into(),
            text: "is everyone here? starting the movie in a minute".into(),
        }),
    )
}

/// Counts what a subscribed node receives (it must keep up, or the push channel grows).
#[derive(Default)]
struct Counter {
    received: AtomicU64,
}

impl BrokerSink for Counter {
    fn publication(&self, _room: &RoomId, _p: Publication) {
        self.received.fetch_add(1, Relaxed);
    }
    fn own_echo(&self, _room: &RoomId, _epoch: &Epoch, _seq: u64) {}
    fn control(&self, _room: &RoomId, _control: RoomControl) {}
    fn broadcast(&self, _payload: Bytes) {}
    fn resubscribed(&self) {}
}

/// Publish `iters` events from `concurrency` tasks, rooms taken round-robin.
async fn publish_many(
    broker: &Arc<dyn Broker>,
    rooms: &Arc<Vec<RoomId>>,
    draft: &Arc<EventDraft>,
    concurrency: usize,
    iters: u64,
) -> Duration {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (broker, rooms, draft, next) =
                (broker.clone(), rooms.clone(), draft.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Relaxed);
                    if i >= iters {
                        break;
                    }
                    let room = &rooms[i as usize % rooms.len()];
                    broker.publish(room, &draft).await.expect("publish");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("publisher task");
    }
    start.elapsed()
}

fn rooms(tag: &str, n: usize) -> Arc<Vec<RoomId>> {
    Arc::new((0..n).map(|i| RoomId::from(format!("{tag}-{i}"))).collect())
}

fn group(
    c: &mut Criterion,
    rt: &Runtime,
    name: &str,
    broker: &Arc<dyn Broker>,
    draft: &Arc<EventDraft>,
    cases: &[(usize, usize)],
) {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    for &(n_rooms, concurrency) in cases {
        let rooms = rooms(&format!("{name}-{n_rooms}"), n_rooms);
        g.bench_with_input(
            BenchmarkId::new(format!("rooms_{n_rooms}/concurrency"), concurrency),
            &concurrency,
            |b, &concurrency| {
                b.iter_custom(|iters| {
                    rt.block_on(publish_many(broker, &rooms, draft, concurrency, iters))
                })
            },
        );
    }
    g.finish();
}

fn redis_publish(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let prefix = format!(
        "synctv-bench-publish-{}-{}:",
        std::process::id(),
        synctv_core::time::now_ms()
    );
    let cfg = support::redis_config(&redis_url(), &prefix, false);
    let (node, publisher) = rt.block_on(support::redis_broker(&cfg, HISTORY));
    let draft = Arc::new(chat(&node));

    // Publishing alone: nobody subscribes, PUBLISH finds no receiver.
    group(
        c,
        &rt,
        "redis_publish",
        &publisher,
        &draft,
        &[
            (100, 1),
            (100, 16),
            (100, 64),
            (100, 256),
            (1000, 64),
            (1000, 256),
        ],
    );

    // Another node subscribed to every room: Redis forwards every event to it.
    let counter = Arc::new(Counter::default());
    let (_, subscriber) = rt.block_on(support::redis_broker(&cfg, HISTORY));
    let subscribed = rooms("redis_publish_subscribed-100", 100);
    rt.block_on(async {
        subscriber.start(counter.clone()).await.unwrap();
        for r in subscribed.iter() {
            subscriber.subscribe(r).await.unwrap();
        }
    });
    group(
        c,
        &rt,
        "redis_publish_subscribed",
        &publisher,
        &draft,
        &[(100, 16), (100, 64), (100, 256)],
    );
    println!(
        "subscribed node received {} events",
        counter.received.load(Relaxed)
    );

    rt.block_on(async {
        subscriber.close().await;
        publisher.close().await;
        cleanup(&prefix).await;
    });
}

/// Delete every key under the run's prefix.
async fn cleanup(prefix: &str) {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut con)
            .await
            .unwrap();
        if !keys.is_empty() {
            redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<()>(&mut con)
                .await
                .unwrap();
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}

criterion_group!(benches, redis_publish);
criterion_main!(benches);
