//! One node: two browsers in sync through play, seek and 20 s of playback, chat and
//! presence, a restart survived, a member whose video is slow to arrive, two seeks at once,
//! speed and pause, the owner's controls and their effect on the other, logging in again,
//! and a room with a password.

use super::rooms::{admin_controls, password_room};
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
    let (a, b) = (driver.page("alice").await, driver.page("bob").await);

    open_room(&a, &b, &base, &host.url, true).await;

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
        &format!("document.getElementById('video').currentTime = 25; {NOW}"),
    )
    .await
    .as_f64()
    .unwrap();
    let seek_ms = convergence(&a, &b, seek_at, "seek").await;
    took_the_seek(&a, 25.0).await;
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

    buffering_drags_nobody(&a, &b, &host).await;
    seeks_at_once_settle(&a, &b).await;
    rate_and_pause(&a, &b).await;
    admin_controls(&a, &b).await;
    password_room(&a, &b).await;

    let _ = a.close().await;
    let _ = b.close().await;
    app.stop().await;
}

/// Alice starts a second copy of the movie, which the host holds back from Bob's browser:
/// Bob's page says it is buffering, Alice plays on undisturbed and the room's playback is
/// not touched; once the video reaches Bob, his page catches up by itself.
async fn buffering_drags_nobody(a: &Client, b: &Client, host: &VideoHost) {
    host.hold("bob");
    fill(a, "movie-url", &format!("{}/testsrc.webm?copy=2", host.url)).await;
    fill(a, "movie-title", "Slow copy").await;
    click(a, "#movie-form button").await;
    until(
        a,
        "the copy in the playlist",
        &text_in("playlist", "Slow copy"),
    )
    .await;
    click(
        a,
        "#playlist button[aria-label='Play Slow copy for everyone']",
    )
    .await;
    until(
        a,
        "the copy loaded at alice's",
        "const v = document.getElementById('video'); \
         return v.src.includes('copy=2') && v.readyState >= 2",
    )
    .await;
    click(a, "#btn-play").await;
    until(
        b,
        "bob's page says it is buffering",
        "return !document.getElementById('buffering').hidden",
    )
    .await;
    until(
        a,
        "the room playing at alice's",
        &format!("{PLAYBACK}.playing"),
    )
    .await;
    let (before, from) = (js(a, PLAYBACK).await, js(a, NOW).await.as_f64().unwrap());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(js(a, PLAYBACK).await, before, "the room's playback changed");
    let held: Vec<_> = samples(a)
        .await
        .into_iter()
        .filter(|s| s.0 >= from)
        .collect();
    let (first, last) = (held[0], held[held.len() - 1]);
    let speed = (last.1 - first.1) / (last.0 - first.0);
    assert!(
        held.iter().all(|s| !s.2) && (0.9..1.1).contains(&speed),
        "alice was held up while bob buffered: speed {speed}, samples {held:?}"
    );
    assert!(
        js(b, "return !document.getElementById('buffering').hidden").await == json!(true),
        "bob's page stopped saying it buffers while his video was held"
    );

    host.release();
    let released = js(a, NOW).await.as_f64().unwrap();
    let ms = convergence(a, b, released, "after buffering").await;
    until(
        b,
        "bob's buffering notice gone",
        "return document.getElementById('buffering').hidden",
    )
    .await;
    eprintln!("browser sync: caught up {ms:.0} ms after the held video arrived");
    assert!(ms <= 1000.0, "caught up {ms} ms after the video arrived");
}

/// Bob, a guest, may not control playback by default: his seek is refused, he is told so
/// and his player returns to the room. Once Alice lets guests control playback, the two
/// seek to different places at the same moment: the room takes both, in some order, and
/// both players end where the last one put it. No player answers a correction with a
/// command of its own, so the playback version stops moving and the two stay together.
async fn seeks_at_once_settle(a: &Client, b: &Client) {
    let version = |p| async move { js(p, &format!("{PLAYBACK}.version")).await };
    let seek = |to: u32| format!("document.getElementById('video').currentTime = {to}; {NOW}");
    let before = version(a).await;
    let at = js(b, &seek(40)).await.as_f64().unwrap();
    until(
        b,
        "bob told his seek was refused",
        &text_in("status", "may not control playback"),
    )
    .await;
    let back_ms = convergence(a, b, at, "a refused seek").await;
    assert_eq!(version(a).await, before, "a guest's seek changed the room");

    click(a, "#admin summary").await;
    let role = a.find(Locator::Id("set-playback")).await.unwrap();
    role.select_by_value("guest").await.unwrap();
    click(a, "#settings-form button[type=submit]").await;
    until(
        a,
        "the settings saved",
        &text_in("status", "Settings saved"),
    )
    .await;
    click(a, "#admin summary").await;

    let before = version(a).await.as_u64().unwrap();
    let (to_a, to_b) = (seek(20), seek(35));
    let (at, _) = tokio::join!(js(a, &to_a), js(b, &to_b));
    let at = at.as_f64().unwrap();
    let ms = convergence(a, b, at, "seeks at once").await;
    let settled = version(a).await.as_u64().unwrap();
    assert_eq!(settled, before + 2, "two seeks, playback versions");
    took_the_seek(a, 20.0).await;
    let quiet_from = js(a, NOW).await.as_f64().unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(version(a).await, json!(settled), "still moving");
    assert_eq!(version(b).await, json!(settled), "bob's view differs");
    let p = p99_since(a, b, quiet_from).await;
    eprintln!(
        "browser sync: a refused seek undone in {back_ms:.0} ms; two seeks at once settled \
         in {ms:.0} ms, then p99 {p:.1} ms"
    );
    assert!(
        back_ms <= 500.0,
        "back with the room {back_ms} ms after a refused seek"
    );
    assert!(ms <= 500.0, "converged {ms} ms after two seeks at once");
    assert!(p <= 100.0, "apart after two seeks at once: p99 {p} ms");
}

/// Alice picks 1.5× and then pauses, through the page's own controls; Bob's player follows
/// each within 500 ms, and the two stop at the same frame within 100 ms.
async fn rate_and_pause(a: &Client, b: &Client) {
    let at = js(a, NOW).await.as_f64().unwrap();
    a.find(Locator::Id("rate"))
        .await
        .unwrap()
        .select_by_value("1.5")
        .await
        .unwrap();
    let rate_ms = convergence(a, b, at, "speed").await;
    assert_eq!(
        js(b, &format!("{PLAYBACK}.rate")).await,
        json!(1.5),
        "the room's speed"
    );
    let rate = js(b, "return document.getElementById('video').playbackRate").await;
    assert!(
        (1.35..=1.65).contains(&rate.as_f64().unwrap()),
        "bob plays at {rate}"
    );

    let at = js(a, NOW).await.as_f64().unwrap();
    click(a, "#btn-play").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let paused_ms = samples(b)
        .await
        .iter()
        .find(|s| s.0 >= at && s.2)
        .map(|s| s.0 - at)
        .expect("bob's player never paused");
    const POS: &str =
        "const v = document.getElementById('video'); return [v.paused, v.currentTime]";
    let (pa, pb) = (js(a, POS).await, js(b, POS).await);
    let apart = (pa[1].as_f64().unwrap() - pb[1].as_f64().unwrap()).abs() * 1000.0;
    eprintln!(
        "browser sync: speed followed in {rate_ms:.0} ms, pause in {paused_ms:.0} ms, \
         paused {apart:.1} ms apart"
    );
    assert!(
        pa[0] == json!(true) && pb[0] == json!(true),
        "not both paused"
    );
    assert!(
        rate_ms <= 500.0,
        "converged {rate_ms} ms after the speed change"
    );
    assert!(paused_ms <= 500.0, "bob paused {paused_ms} ms after alice");
    assert!(apart <= 100.0, "paused {apart} ms apart");
}
