//! One node: two browsers in sync through play, seek and 20 s of playback, chat and
//! presence, a restart survived, then the owner's controls and their effect on the other.

use super::*;
use crate::common::{DbKind, TestApp, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_browsers_stay_in_sync_and_survive_a_restart() {
    let db = TestDb::new(DbKind::Sqlite).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tweak = |c: &mut synctv_core::config::Config| c.server.shutdown_reconnect_jitter_ms = 500;
    let app = TestApp::spawn_listening(db.clone(), listener, tweak).await;
    let base = app.base.clone();
    let host = video_host().await;
    let driver = Driver::start().await;
    let (a, b) = (driver.page().await, driver.page().await);

    open_room(&a, &b, &base, &host, true).await;

    // Chat both ways; Bob's by keyboard alone.
    fill(&a, "chat-text", "hello bob").await;
    click(&a, "#chat-form button").await;
    until(
        &b,
        "alice's message at bob's",
        &text_in("chat", "hello bob"),
    )
    .await;
    chat_by_keyboard(&b, "hi alice").await;
    until(&a, "bob's message at alice's", &text_in("chat", "hi alice")).await;
    assert_accessible(&b, "bob's room view").await;

    let play_at = js(&a, NOW).await.as_f64().unwrap();
    click(&a, "#btn-play").await;
    let play_ms = convergence(&a, &b, play_at, "play").await;

    // Alice seeks (as a user drags the bar: a plain currentTime change).
    let seek_at = js(
        &a,
        &format!("document.getElementById('video').currentTime = 30; {NOW}"),
    )
    .await
    .as_f64()
    .unwrap();
    let seek_ms = convergence(&a, &b, seek_at, "seek").await;
    screenshot(&a, "room.png").await;

    // Steady state: 20 s sampled every 100 ms.
    let steady_from = js(&a, NOW).await.as_f64().unwrap();
    tokio::time::sleep(Duration::from_secs(20)).await;
    let d = diffs(&samples(&a).await, &samples(&b).await, steady_from);
    assert!(d.len() >= 180, "samples: {}", d.len());
    let steady_p99 = p99(&d);
    eprintln!(
        "browser sync: converged {play_ms:.0} ms after play, {seek_ms:.0} ms after seek; \
         steady 20 s: p99 {steady_p99:.1} ms over {} samples",
        d.len()
    );
    assert!(play_ms <= 500.0, "converged {play_ms} ms after play");
    assert!(seek_ms <= 500.0, "converged {seek_ms} ms after seek");
    assert!(steady_p99 <= 100.0, "p99 drift {steady_p99} ms: {d:?}");
    // Both clients reported their drift with their pings.
    assert!(app.metric("synctv_sync_drift_seconds_count").await >= 2.0);

    // The server restarts on the same address; both pages reconnect by themselves, resume
    // and carry on in sync.
    app.stop().await;
    until(
        &b,
        "bob sees the disconnection",
        &text_in("status", "reconnect"),
    )
    .await;
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let app = TestApp::spawn_listening(db.clone(), listener, tweak).await;
    until(&b, "bob reconnected", &text_in("status", "onnected.")).await;
    until(&a, "alice reconnected", &text_in("status", "onnected.")).await;
    fill(&a, "chat-text", "still here?").await;
    click(&a, "#chat-form button").await;
    until(
        &b,
        "a message after the restart",
        &text_in("chat", "still here?"),
    )
    .await;
    let back_at = js(&a, NOW).await.as_f64().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let d = diffs(&samples(&a).await, &samples(&b).await, back_at + 1000.0);
    assert!(p99(&d) <= 100.0, "in sync after the restart: {d:?}");

    admin_controls(&a, &b).await;

    let _ = a.close().await;
    let _ = b.close().await;
    app.stop().await;
}

/// Alice, the owner, renames the room and restricts chat to members (Bob, a guest, is told
/// so in words), removes the movie, removes Bob (his page goes back to the list saying
/// why) and deletes the room.
async fn admin_controls(a: &Client, b: &Client) {
    until(
        b,
        "no settings for a guest",
        "return document.getElementById('admin').hidden",
    )
    .await;
    click(a, "#admin summary").await;
    assert_accessible(a, "alice's room view with the settings open").await;
    fill(a, "set-name", "film club").await;
    js(
        a,
        "document.getElementById('set-chat').value = 'member'; return true",
    )
    .await;
    click(a, "#settings-form button[type=submit]").await;
    until(
        a,
        "the settings saved",
        &text_in("status", "Settings saved"),
    )
    .await;
    until(
        b,
        "the new name at bob's",
        &text_in("room-title", "film club"),
    )
    .await;
    screenshot(a, "admin.png").await;
    fill(b, "chat-text", "can I still talk?").await;
    click(b, "#chat-form button").await;
    until(
        b,
        "bob told why his message was refused",
        &text_in("status", "may not chat in this room"),
    )
    .await;
    assert!(
        js(a, &text_in("chat", "can I still talk?")).await == json!(false),
        "a refused message reached the room"
    );

    click(a, "#playlist button[aria-label^=Remove]").await;
    until(
        b,
        "the movie gone at bob's",
        &text_in("playlist", "The playlist is empty"),
    )
    .await;

    click(a, "#members button[aria-label='Remove bob from the room']").await;
    until_shown(b, "bob back at the room list", "rooms").await;
    until(b, "bob told why", &text_in("status", "removed")).await;
    until(
        a,
        "bob gone from alice's list",
        "return !document.getElementById('members').textContent.includes('bob')",
    )
    .await;

    click(a, "#delete-room").await;
    click(a, "#delete-confirm").await;
    until_shown(a, "alice back at the room list", "rooms").await;
    until(a, "alice told why", &text_in("status", "deleted")).await;
}
