//! Room transactions on a real SQLite file against writes that do not go through the
//! store's write gate (accounts, room creation, chat retention): a change that has already
//! read must still be able to write and commit.

use std::time::Duration;

use synctv_core::config::DatabaseConfig;
use synctv_core::ids::{MessageId, RoomId, UserId};
use synctv_core::model::{ChatMessage, RoomSettings};
use synctv_core::store::{NewRoom, RoomLock, Store};

async fn create_room(store: &Store, name: &str) -> RoomId {
    let room = store
        .create_room(NewRoom {
            name: name.into(),
            owner_id: UserId::generate(),
            owner_registered: false,
            password_hash: None,
            settings: RoomSettings::default(),
        })
        .await
        .unwrap();
    room.room_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_has_read_commits_despite_a_write_outside_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&DatabaseConfig {
        url: format!("sqlite://{}/t.db", dir.path().display()),
        ..DatabaseConfig::default()
    })
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let room = create_room(&store, "first").await;

    // The change reads the room first...
    let mut tx = store.room_tx(&room, RoomLock::Change).await.unwrap();
    let read = tx.room().await.unwrap();
    assert_eq!(read.name, "first");
    // ...while a room is created outside the gate. Given the time to commit, it used to
    // commit in between, and the change's write below then failed with "database is
    // locked"; now it waits for the change to commit.
    let mut other = tokio::spawn({
        let store = store.clone();
        async move { create_room(&store, "second").await }
    });
    let finished_first = tokio::time::timeout(Duration::from_millis(300), &mut other)
        .await
        .is_ok();
    let msg = ChatMessage {
        message_id: MessageId::generate(),
        user_id: UserId::generate(),
        username: "writer".into(),
        text: "still stored".into(),
    };
    tx.insert_chat(&msg, 1)
        .await
        .unwrap_or_else(|e| panic!("the change's write failed: {e}"));
    tx.commit().await.unwrap();
    assert!(
        !finished_first,
        "the outside write did not wait for the change"
    );
    let second = other.await.unwrap();

    let mut load = store.room_tx(&room, RoomLock::Exclusive).await.unwrap();
    let state = load.load_state(10).await.unwrap().unwrap();
    load.commit().await.unwrap();
    let texts: Vec<_> = state
        .recent_chat
        .iter()
        .map(|c| c.message.text.as_str())
        .collect();
    assert_eq!(texts, ["still stored"]);
    let mut tx = store.room_tx(&second, RoomLock::Change).await.unwrap();
    assert_eq!(tx.room().await.unwrap().name, "second");
    tx.commit().await.unwrap();
}
