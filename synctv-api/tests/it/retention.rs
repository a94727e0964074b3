//! Chat retention: the database keeps at most `rooms.chat_retention_per_room` messages per
//! room and none older than `rooms.chat_retention_days`, so it cannot grow without end.

use serde_json::json;

use crate::common::*;
use crate::dual;

async fn chat_is_pruned_to_the_newest_per_room(db: DbKind) {
    let app = TestApp::spawn_with(db, |c| {
        c.rooms.chat_retention_per_room = 3;
        c.rooms.chat_retention_interval_secs = 1;
    })
    .await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    let mut ws = app.ws(id, &alice, "").await;
    ws.welcome().await;
    for i in 0..6 {
        ws.chat(&format!("m{i}")).await;
    }
    let path = format!("/api/rooms/{id}/chat");
    eventually("the chat pruned to 3", || async {
        app.get(&path, Some(&alice.token)).await.1["total"] == 3
    })
    .await;
    let (_, page) = app.get(&path, Some(&alice.token)).await;
    let texts: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts, ["m5", "m4", "m3"], "the newest stay");
    ws.close().await;
    app.stop().await;
}
dual!(chat_is_pruned_to_the_newest_per_room);

async fn chat_older_than_the_retention_age_is_deleted(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    let mut ws = app.ws(id, &alice, "").await;
    ws.welcome().await;
    ws.chat("old").await;
    let cutoff = synctv_core::time::now_ms() + 1;
    let store = synctv_core::store::Store::connect(&app.config.database)
        .await
        .unwrap();
    ws.chat("new").await;
    // What the retention job runs, with a cut-off between the two messages. "new" was
    // stamped after `cutoff` only if the clock moved on; wait until it has.
    eventually("the clock to pass the cut-off", || async {
        synctv_core::time::now_ms() > cutoff
    })
    .await;
    let deleted = store.prune_chat(cutoff, 0).await.unwrap();
    assert!(deleted >= 1);
    let (_, page) = app
        .get(&format!("/api/rooms/{id}/chat"), Some(&alice.token))
        .await;
    let texts: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].clone())
        .collect();
    assert!(!texts.contains(&json!("old")), "{texts:?}");
    store.close().await;
    ws.close().await;
    app.stop().await;
}
dual!(chat_older_than_the_retention_age_is_deleted);
