//! The web client in a real browser: Debian's chromium, headless, driven through
//! chromedriver (WebDriver) by fantoccini. Two browsers (two chromium processes, so neither
//! is a throttled background tab) open one room through the UI; one plays and seeks a real
//! WebM video, the other must follow closely; chat and presence show on both; a server
//! restart is survived without anyone touching the page.
//!
//! Positions are sampled inside each page every 100 ms with the wall clock
//! (`performance.timeOrigin + performance.now()`, one clock for both processes) and compared
//! here: the follower against the leader, interpolated at the follower's sample times.
//!
//! `SYNCTV_SCREENSHOTS=<dir>` also saves screenshots of the main screens there (the README's).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::common::{DbKind, TestApp, TestDb};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// One chromedriver; each `page()` is a separate browser session (its own chromium).
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Driver {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "the browser tests need Debian's chromium and chromium-driver (scripts/test installs them)"
        );
        let port = synctv_testkit::free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver does not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Driver { child, url }
    }

    async fn page(&self) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--mute-audio",
                    "--autoplay-policy=no-user-gesture-required",
                    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                    "--window-size=1280,900",
                ],
            }),
        );
        let conn = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(conn)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves `tests/fixtures/` (the test video) with range requests, as a movie host would.
async fn video_host() -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let app = axum::Router::new().fallback_service(tower_http::services::ServeDir::new(dir));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

async fn js(page: &Client, script: &str) -> Value {
    page.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script {script}: {e}"))
}

/// Poll `script` (returning a boolean) until true.
async fn until(page: &Client, what: &str, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if js(page, script).await == json!(true) {
            return;
        }
        if Instant::now() > deadline {
            let status = js(page, "return document.getElementById('status').textContent").await;
            panic!("timed out waiting for {what} (status line: {status})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn fill(page: &Client, id: &str, text: &str) {
    let e = page.find(Locator::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

async fn click(page: &Client, css: &str) {
    page.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn screenshot(page: &Client, name: &str) {
    if let Ok(dir) = std::env::var("SYNCTV_SCREENSHOTS") {
        let png = page.screenshot().await.unwrap();
        std::fs::write(PathBuf::from(dir).join(name), png).unwrap();
    }
}

const START_SAMPLING: &str = "const v = document.getElementById('video'); window.__s = []; \
    clearInterval(window.__t); window.__t = setInterval(() => __s.push([performance.timeOrigin + \
    performance.now(), v.currentTime * 1000, v.paused ? 1 : 0]), 100); return true;";
const NOW: &str = "return performance.timeOrigin + performance.now();";

/// (wall time ms, position ms, paused) samples since START_SAMPLING.
async fn samples(page: &Client) -> Vec<(f64, f64, bool)> {
    let v = js(page, "return window.__s").await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s[0].as_f64().unwrap(),
                s[1].as_f64().unwrap(),
                s[2].as_f64().unwrap() == 1.0,
            )
        })
        .collect()
}

/// The follower's position minus the leader's (interpolated), for each follower sample at
/// or after `from` where both are playing.
fn diffs(leader: &[(f64, f64, bool)], follower: &[(f64, f64, bool)], from: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for &(t, pos, paused) in follower.iter().filter(|s| s.0 >= from) {
        let Some(i) = leader.windows(2).position(|w| w[0].0 <= t && t <= w[1].0) else {
            continue;
        };
        let (a, b) = (leader[i], leader[i + 1]);
        if paused || a.2 || b.2 || b.1 < a.1 {
            out.push((t, f64::INFINITY)); // not both playing yet (or the leader jumped)
            continue;
        }
        let at = a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0);
        out.push((t, pos - at));
    }
    out
}

/// How long after `change` the follower came within 100 ms of the leader and stayed there
/// for at least 1 s.
fn converged_after(d: &[(f64, f64)], change: f64) -> Option<f64> {
    (0..d.len()).find_map(|i| {
        let steady = d[i..]
            .iter()
            .take_while(|s| s.0 <= d[i].0 + 1000.0)
            .all(|s| s.1.abs() < 100.0);
        (steady && d.last()?.0 >= d[i].0 + 1000.0).then(|| d[i].0 - change)
    })
}

fn p99(d: &[(f64, f64)]) -> f64 {
    let mut v: Vec<f64> = d.iter().map(|s| s.1.abs()).collect();
    v.sort_by(f64::total_cmp);
    v[(v.len() * 99).div_ceil(100) - 1]
}

async fn sign_in_as_member(page: &Client, base: &str, name: &str) {
    page.goto(&format!("{base}/")).await.unwrap();
    until(
        page,
        "the sign-in view",
        "return !document.getElementById('view-auth').hidden",
    )
    .await;
    screenshot(page, "sign-in.png").await;
    fill(page, "acct-user", name).await;
    fill(page, "acct-pass", "correct horse battery").await;
    click(page, "#account-form button[value=register]").await;
    until(
        page,
        "the room list",
        "return !document.getElementById('view-rooms').hidden",
    )
    .await;
}

async fn sign_in_as_guest(page: &Client, base: &str, name: &str) {
    page.goto(&format!("{base}/")).await.unwrap();
    until(
        page,
        "the sign-in view",
        "return !document.getElementById('view-auth').hidden",
    )
    .await;
    fill(page, "guest-name", name).await;
    click(page, "#guest-form button").await;
    until(
        page,
        "the room list",
        "return !document.getElementById('view-rooms').hidden",
    )
    .await;
}

fn text_in(id: &str, text: &str) -> String {
    format!("return document.getElementById('{id}').textContent.includes({text:?})")
}

/// Wait for the change at `change` (wall ms) to reach the follower, then return the
/// convergence time in ms.
async fn convergence(leader: &Client, follower: &Client, change: f64, what: &str) -> f64 {
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let d = diffs(&samples(leader).await, &samples(follower).await, change);
    converged_after(&d, change).unwrap_or_else(|| {
        let tail: Vec<_> = d
            .iter()
            .map(|s| (s.0 - change).round() as i64)
            .zip(d.iter().map(|s| s.1.round()))
            .collect();
        panic!("{what}: the follower never converged; (ms after change, diff): {tail:?}")
    })
}

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

    // Alice registers and creates a room; Bob, a guest, joins from the shared link.
    sign_in_as_member(&a, &base, "alice").await;
    fill(&a, "room-name", "movie night").await;
    click(&a, "#create-form button").await;
    until(&a, "alice in the room", &text_in("status", "Connected")).await;
    let link = js(&a, "return document.getElementById('share-link').value").await;
    sign_in_as_guest(&b, &base, "bob").await;
    screenshot(&b, "rooms.png").await;
    b.goto(link.as_str().unwrap()).await.unwrap();
    until(&b, "bob in the room", &text_in("status", "Connected")).await;

    // Presence and chat, both ways.
    until(&a, "bob in alice's member list", &text_in("members", "bob")).await;
    until(
        &b,
        "alice in bob's member list",
        &text_in("members", "alice"),
    )
    .await;
    fill(&a, "chat-text", "hello bob").await;
    click(&a, "#chat-form button").await;
    until(
        &b,
        "alice's message at bob's",
        &text_in("chat", "hello bob"),
    )
    .await;
    fill(&b, "chat-text", "hi alice").await;
    click(&b, "#chat-form button").await;
    until(&a, "bob's message at alice's", &text_in("chat", "hi alice")).await;

    // Alice adds the movie and starts it for everyone.
    fill(&a, "movie-url", &format!("{host}/testsrc.webm")).await;
    fill(&a, "movie-title", "Test pattern").await;
    click(&a, "#movie-form button").await;
    until(
        &a,
        "the movie in alice's playlist",
        &text_in("playlist", "Test pattern"),
    )
    .await;
    click(&a, "#playlist button").await;
    for (p, who) in [(&a, "alice"), (&b, "bob")] {
        until(
            p,
            &format!("the movie loaded at {who}'s"),
            "const v = document.getElementById('video'); return v.readyState >= 2",
        )
        .await;
        js(p, START_SAMPLING).await;
    }
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

    let _ = a.close().await;
    let _ = b.close().await;
    app.stop().await;
}
