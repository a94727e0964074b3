//! The web client in a real browser: Debian's chromium, headless, driven through
//! chromedriver (WebDriver) by fantoccini. Two browsers (two chromium processes, so neither
//! is a throttled background tab) open one room through the UI; one plays and seeks a real
//! WebM video, the other must follow closely. `single` runs one node (sync, chat, presence,
//! a server restart, a member whose video is slow to arrive, two seeks at once, speed and
//! pause, keyboard and labels, then `rooms`: the admin controls, logging in, a password
//! room); `behind_nginx` runs three binary nodes behind the shipped nginx config and kills,
//! then drains, the one a page is on.
//!
//! Positions are sampled inside each page every 100 ms with the wall clock
//! (`performance.timeOrigin + performance.now()`, one clock for both processes) and compared
//! here (`measure`): the follower against the leader, interpolated at the follower's sample
//! times.
//!
//! The video is `tests/fixtures/testsrc.webm`: 60 s of ffmpeg's `testsrc` pattern in VP8,
//! 290 KB, served by `video_host` on its own port as a movie host would serve it.
//!
//! `SYNCTV_SCREENSHOTS=<dir>` also saves screenshots of the main screens there (the README's).

mod behind_nginx;
mod measure;
mod rooms;
mod single;

use measure::*;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

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

    /// A new browser; its user agent ends with `who`, so the video host can tell it apart.
    async fn page(&self, who: &str) -> Client {
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
                    format!("--user-agent=Mozilla/5.0 (X11; Linux x86_64) synctv-test {who}"),
                    // Talk DevTools over a pipe, not a local port: in a bare Debian root
                    // (no /etc/hosts entry for localhost) chromedriver cannot reach the
                    // port and reports "unable to connect to renderer".
                    "--remote-debugging-pipe",
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
/// `hold(who)` keeps back requests for `?copy=` URLs from `who`'s browser until `release()`:
/// one member's slow network, while everybody else's video arrives at once.
struct VideoHost {
    url: String,
    held: Arc<tokio::sync::watch::Sender<Option<String>>>,
}

impl VideoHost {
    fn hold(&self, who: &str) {
        self.held.send_replace(Some(who.to_string()));
    }

    fn release(&self) {
        self.held.send_replace(None);
    }
}

async fn video_host() -> VideoHost {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let held = Arc::new(tokio::sync::watch::channel(None::<String>).0);
    let gate = held.clone();
    let hold = move |req: axum::extract::Request, next: axum::middleware::Next| {
        let mut rx = gate.subscribe();
        async move {
            let ua = req
                .headers()
                .get(axum::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            if req.uri().query().is_some_and(|q| q.contains("copy=")) {
                let _ = rx
                    .wait_for(|who| who.as_deref().is_none_or(|who| !ua.ends_with(who)))
                    .await;
            }
            next.run(req).await
        }
    };
    let app = axum::Router::new()
        .fallback_service(tower_http::services::ServeDir::new(dir))
        .layer(axum::middleware::from_fn(hold));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    VideoHost {
        url: format!("http://{addr}"),
        held,
    }
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

/// Wait until the view `view-<name>` is shown.
async fn until_shown(page: &Client, what: &str, name: &str) {
    let script = format!("return !document.getElementById('view-{name}').hidden");
    until(page, what, &script).await;
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

/// The whole page, from the top: the window grows to the page's height for the picture.
async fn screenshot(page: &Client, name: &str) {
    if let Ok(dir) = std::env::var("SYNCTV_SCREENSHOTS") {
        let rect = page.get_window_rect().await.unwrap();
        let chrome = "return document.documentElement.scrollHeight + outerHeight - innerHeight";
        let height = js(page, chrome).await.as_f64().unwrap().min(2000.0);
        page.set_window_size(rect.2 as u32, height as u32)
            .await
            .unwrap();
        js(page, "window.scrollTo(0, 0); return true").await;
        let png = page.screenshot().await.unwrap();
        std::fs::write(PathBuf::from(dir).join(name), png).unwrap();
        page.set_window_size(rect.2 as u32, rect.3 as u32)
            .await
            .unwrap();
    }
}

async fn sign_in_as_member(page: &Client, base: &str, name: &str) {
    page.goto(&format!("{base}/")).await.unwrap();
    until_shown(page, "the sign-in view", "auth").await;
    screenshot(page, "sign-in.png").await;
    fill(page, "acct-user", name).await;
    fill(page, "acct-pass", "correct horse battery").await;
    click(page, "#account-form button[value=register]").await;
    until_shown(page, "the room list", "rooms").await;
}

async fn sign_in_as_guest(page: &Client, base: &str, name: &str) {
    page.goto(&format!("{base}/")).await.unwrap();
    until_shown(page, "the sign-in view", "auth").await;
    fill(page, "guest-name", name).await;
    click(page, "#guest-form button").await;
    until_shown(page, "the room list", "rooms").await;
}

fn text_in(id: &str, text: &str) -> String {
    format!("return document.getElementById('{id}').textContent.includes({text:?})")
}

/// Alice registers and creates a room with the test video playing-ready; Bob (a guest, or
/// a registered member) joins from the shared link; both see each other, the movie is
/// loaded on both pages and their positions are being sampled.
async fn open_room(a: &Client, b: &Client, base: &str, host: &str, bob_guest: bool) {
    sign_in_as_member(a, base, "alice").await;
    fill(a, "room-name", "movie night").await;
    click(a, "#create-form button").await;
    until(a, "alice in the room", &text_in("status", "Connected")).await;
    let link = js(a, "return document.getElementById('share-link').value").await;
    if bob_guest {
        sign_in_as_guest(b, base, "bob").await;
    } else {
        sign_in_as_member(b, base, "bob").await;
    }
    screenshot(b, "rooms.png").await;
    b.goto(link.as_str().unwrap()).await.unwrap();
    until(b, "bob in the room", &text_in("status", "Connected")).await;
    until(a, "bob in alice's member list", &text_in("members", "bob")).await;
    until(
        b,
        "alice in bob's member list",
        &text_in("members", "alice"),
    )
    .await;

    fill(a, "movie-url", &format!("{host}/testsrc.webm")).await;
    fill(a, "movie-title", "Test pattern").await;
    click(a, "#movie-form button").await;
    until(
        a,
        "the movie in alice's playlist",
        &text_in("playlist", "Test pattern"),
    )
    .await;
    click(a, "#playlist button").await;
    for (p, who) in [(a, "alice"), (b, "bob")] {
        until(
            p,
            &format!("the movie loaded at {who}'s"),
            "const v = document.getElementById('video'); return v.readyState >= 2",
        )
        .await;
        js(p, START_SAMPLING).await;
    }
}

/// The node this page's socket is on (from its last welcome).
async fn node_of(page: &Client) -> String {
    let v = js(
        page,
        "const c = window.synctv.connection(); return c && c.nodeId",
    )
    .await;
    v.as_str().unwrap_or_default().to_string()
}

/// Send a chat message with the keyboard alone: Tab from the top of the page until the
/// message field has focus, type, Enter.
async fn chat_by_keyboard(page: &Client, text: &str) {
    js(
        page,
        "document.activeElement && document.activeElement.blur(); return true",
    )
    .await;
    let mut reached = false;
    for _ in 0..80 {
        page.active_element()
            .await
            .unwrap()
            .send_keys(fantoccini::key::Key::Tab.to_string().as_str())
            .await
            .unwrap();
        if js(page, "return document.activeElement.id").await == json!("chat-text") {
            reached = true;
            break;
        }
    }
    assert!(reached, "the message field is not reachable with Tab");
    let field = page.active_element().await.unwrap();
    field.send_keys(text).await.unwrap();
    field
        .send_keys(fantoccini::key::Key::Enter.to_string().as_str())
        .await
        .unwrap();
}

/// Every visible control has a name a screen reader can read (a label, aria-label or
/// text), the page loads scripts, styles and data only from its own node, and at phone
/// width (390 px) nothing scrolls sideways.
async fn assert_accessible(page: &Client, view: &str) {
    let unnamed = js(
        page,
        "return [...document.querySelectorAll('input, select, button, textarea')]
           .filter(e => e.offsetParent !== null || e.getClientRects().length > 0)
           .filter(e => !((e.labels && e.labels.length) || e.getAttribute('aria-label')
              || e.getAttribute('aria-labelledby') || (e.tagName === 'BUTTON' && e.textContent.trim())))
           .map(e => e.outerHTML)",
    )
    .await;
    assert_eq!(unnamed, json!([]), "{view}: controls without a name");
    let foreign = js(
        page,
        "return performance.getEntriesByType('resource')
           .filter(r => r.initiatorType !== 'video' && new URL(r.name).origin !== location.origin)
           .map(r => r.name)",
    )
    .await;
    assert_eq!(foreign, json!([]), "{view}: loaded from elsewhere");
    let rect = page.get_window_rect().await.unwrap();
    page.set_window_size(390, 844).await.unwrap();
    let sideways = js(
        page,
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
    )
    .await;
    page.set_window_size(rect.2 as u32, rect.3 as u32)
        .await
        .unwrap();
    assert_eq!(
        sideways,
        json!(0),
        "{view}: scrolls sideways at phone width"
    );
}
