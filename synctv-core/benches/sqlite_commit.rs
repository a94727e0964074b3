//! What `database.sqlite_synchronous: full` costs: one chat message stored the way the
//! server stores it (a room transaction, the insert, the commit) on a SQLite file in WAL
//! mode, with `synchronous = FULL` (the default: the commit is fsynced before it returns,
//! so an acknowledged message survives a power loss) and `NORMAL` (no fsync per commit).
//! One writer at a time, then four at once (SQLite serializes writers, so this shows
//! whether waiting writers add to the cost). Criterion reports messages/s.
//!
//! The database lives under Cargo's target directory, not /tmp: /tmp may be a tmpfs,
//! where fsync costs nothing and the comparison would say nothing.
//!
//! `cargo bench -p synctv-core --bench sqlite_commit`

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use synctv_core::config::{DatabaseConfig, SqliteSynchronous};
use synctv_core::ids::{MessageId, RoomId, UserId};
use synctv_core::model::{ChatMessage, RoomSettings};
use synctv_core::store::{NewRoom, RoomLock, Store};
use tokio::runtime::Runtime;

async fn open(dir: &std::path::Path, sync: SqliteSynchronous) -> (Store, RoomId) {
    let cfg = DatabaseConfig {
        url: format!("sqlite://{}/{sync:?}.db", dir.display()),
        sqlite_synchronous: sync,
        ..DatabaseConfig::default()
    };
    let store = Store::connect(&cfg).await.expect("open SQLite");
    store.migrate().await.expect("migrate");
    let room = store
        .create_room(NewRoom {
            name: "bench".into(),
            owner_id: UserId::generate(),
            owner_registered: false,
            password_hash: None,
            settings: RoomSettings::default(),
        })
        .await
        .expect("room");
    (store, room.room_id)
}

async fn store_chat(store: &Store, room: &RoomId, user: &UserId) {
    let msg = ChatMessage {
        message_id: MessageId::generate(),
        user_id: user.clone(),
        username: "bench".into(),
        text: "a chat message of ordinary length, about sixty bytes long".into(),
    };
    let mut tx = store.room_tx(room, RoomLock::ByInsert).await.unwrap();
    tx.insert_chat(&msg, synctv_core::time::now_ms())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut group = c.benchmark_group("sqlite_chat_commit");
    group.measurement_time(Duration::from_secs(10));
    for sync in [SqliteSynchronous::Full, SqliteSynchronous::Normal] {
        let (store, room) = rt.block_on(open(dir.path(), sync));
        let user = UserId::generate();
        for writers in [1usize, 4] {
            group.throughput(Throughput::Elements(1));
            let id = BenchmarkId::new(format!("{sync:?}").to_lowercase(), writers);
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        let per = iters.div_ceil(writers as u64);
                        let tasks: Vec<_> = (0..writers)
                            .map(|_| {
                                let (store, room, user) =
                                    (store.clone(), room.clone(), user.clone());
                                tokio::spawn(async move {
                                    for _ in 0..per {
                                        store_chat(&store, &room, &user).await;
                                    }
                                })
                            })
                            .collect();
                        for t in tasks {
                            t.await.unwrap();
                        }
                        // Scale to the requested count (per * writers may exceed it).
                        start
                            .elapsed()
                            .mul_f64(iters as f64 / (per * writers as u64) as f64)
                    })
                })
            });
        }
        rt.block_on(store.close());
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
