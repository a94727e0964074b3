//! Slow and silent clients: closed with documented codes, never buffered without bound.

use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_cannot_keep_up_is_closed_with_4003() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| {
        c.ws.send_queue_len = 4;
        c.ws.close_grace_ms = 20_000;
        c.ws.rate_per_sec = 10_000;
        c.ws.rate_burst = 10_000;
        c.ws.max_message_bytes = 256 * 1024;
        c.rooms.max_chat_len = 100_000;
    })
    .await;
    let owner = app.register("owner").await;
    let lazy = app.register("lazy").await;
    let room = app.create_room(&owner, json!({"name": "r"})).await;
    let room_id = room["room_id"].as_str().unwrap();
    let mut talker = app.ws(room_id, &owner, "").await;
    talker.welcome().await;
    talker.event("member_joined").await;
    let url = app.ws_url(&format!("/api/rooms/{room_id}/ws?token={}", lazy.token));
    let mut slow = WsClient::connect_small_buffer(&url).await;
    talker.event("member_joined").await;

    // The slow client reads nothing while the talker sends ~30 MB of chat.
    let big = "z".repeat(90_000);
    let mut sent = 0;
    while app.metric("synctv_slow_consumer_disconnects_total").await < 1.0 {
        talker.chat(&big).await;
        sent += 1;
        assert!(sent < 2_000, "the slow client was never cut off");
    }
    // The talker was never held back, and sees the slow client leave.
    let left = talker.recv_type("event").await;
    let left = if left["kind"] == "member_left" {
        left
    } else {
        talker.event("member_left").await
    };
    assert_eq!(left["data"]["user_id"], lazy.user_id.as_str());

    // When the slow client finally reads: a gapless prefix of events, then 4003.
    let (frames, closed) = slow.closed().await;
    assert_eq!(
        closed,
        Closed::Code(4003, "send queue overflow: client too slow".into())
    );
    assert_eq!(frames[0]["type"], "welcome");
    let seqs: Vec<u64> = events(&frames).iter().map(|(s, _)| *s).collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "delivered frames are gapless: {seqs:?}"
    );
    assert!(
        (seqs.len() as u64) < sent + 2,
        "the backlog was cut, not buffered"
    );
    talker.chat("still talking").await;
    talker.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_closed_with_4004_and_a_live_one_stays() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| {
        c.ws.heartbeat_interval_secs = 1;
        c.ws.idle_timeout_secs = 2;
    })
    .await;
    let owner = app.register("owner").await;
    let room = app.create_room(&owner, json!({"name": "r"})).await;
    let room_id = room["room_id"].as_str().unwrap();
    // The live client keeps reading, so its library answers the server's pings.
    let live = app.ws(room_id, &owner, "").await;
    let (stop, live_task) = live.pump();
    // The silent one sends nothing at all, not even pongs.
    let silent_user = app.register("silent").await;
    let path = format!("/api/rooms/{room_id}/ws?token={}", silent_user.token);
    let silent = SilentClient::connect(&app, &path).await;
    eventually("two sockets open", || async {
        app.metric("synctv_connections_active").await == 2.0
    })
    .await;
    eventually("the silent socket is dropped", || async {
        app.metric("synctv_connections_active").await == 1.0
    })
    .await;
    let (frames, code) = silent.read_until_close().await;
    assert_eq!(frames[0]["type"], "welcome");
    assert_eq!(code, Some(4004), "closed as idle");
    stop.send(()).unwrap();
    let (mut live, live_closed) = live_task.await.unwrap();
    assert_eq!(live_closed, None, "the live client was kept");
    live.chat("still here").await;
    app.stop().await;
}
