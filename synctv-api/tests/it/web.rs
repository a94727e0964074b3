//! The browser client at `/`: the page, every asset it references (parsed from the files, so
//! a missing one fails here), the security headers, and a syntax check of every module.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};

use crate::common::*;

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// The values of `attr="/assets/..."` in the page.
fn html_assets(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let value = &rest[..rest.find('"').expect("closing quote")];
            if let Some(name) = value.strip_prefix("/assets/") {
                out.push(name.to_string());
            }
        }
    }
    out
}

/// Relative module specifiers (`from "./x.js"`, `import "./x.js"`) in a script.
fn js_imports(js: &str) -> Vec<String> {
    let mut out = Vec::new();
    for pat in ["from \"./", "import \"./"] {
        for (i, _) in js.match_indices(pat) {
            let rest = &js[i + pat.len()..];
            out.push(rest[..rest.find('"').expect("closing quote")].to_string());
        }
    }
    out
}

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()[CONTENT_TYPE].to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_and_every_referenced_asset_are_served() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let http = reqwest::Client::new();

    let resp = http.get(app.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        content_type(&resp).starts_with("text/html"),
        "{}",
        content_type(&resp)
    );
    let csp = resp.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    for part in [
        "default-src 'self'",
        "media-src *",
        "connect-src 'self' ws: wss:",
    ] {
        assert!(csp.contains(part), "CSP lacks {part}: {csp}");
    }
    assert_eq!(resp.headers()[CACHE_CONTROL], "no-cache");
    // Revalidation: the same ETag answers 304 with no body.
    let etag = resp.headers()[ETAG].clone();
    let again = http
        .get(app.url("/"))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.text().await.unwrap().is_empty());
    let html = resp.text().await.unwrap();
    assert!(
        html.contains(r#"<script type="module" src="/assets/app.js"></script>"#),
        "{html}"
    );

    // Walk the references from the page through the module graph.
    let mut todo = html_assets(&html);
    assert!(todo.iter().any(|a| a.ends_with(".css")), "{todo:?}");
    let mut seen = BTreeSet::new();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let resp = http
            .get(app.url(&format!("/assets/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{name}");
        assert!(
            resp.headers().contains_key(CONTENT_SECURITY_POLICY),
            "{name}"
        );
        let ctype = content_type(&resp);
        let body = resp.text().await.unwrap();
        if name.ends_with(".js") {
            assert!(ctype.starts_with("text/javascript"), "{name}: {ctype}");
            todo.extend(js_imports(&body));
        } else if name.ends_with(".css") {
            assert!(ctype.starts_with("text/css"), "{name}: {ctype}");
        } else {
            panic!("unexpected asset kind {name}");
        }
    }
    // Every file in web/ is reachable from the page: none is dead or forgotten.
    let on_disk: BTreeSet<String> = std::fs::read_dir(web_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "index.html")
        .collect();
    assert_eq!(seen, on_disk);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_asset_is_a_json_404() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    for path in [
        "/assets/nope.js",
        "/assets/..%2Fsrc%2Flib.rs",
        "/index.html",
    ] {
        let (status, body) = app.get(path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
    }
    app.stop().await;
}

/// `node --check` on every module, as an ES module, so a syntax error fails the suite.
#[test]
fn every_script_parses() {
    let mut checked = 0;
    for entry in std::fs::read_dir(web_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("js") {
            continue;
        }
        let out = std::process::Command::new("node")
            .args(["--input-type=module", "--check"])
            .stdin(std::fs::File::open(&path).unwrap())
            .output()
            .expect("node is installed");
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 3, "found {checked} scripts");
}

/// The CSP allows no inline code: the page must not need any.
#[test]
fn page_has_no_inline_script_or_style() {
    let html = std::fs::read_to_string(web_dir().join("index.html")).unwrap();
    assert!(!html.contains("<script>"), "inline script");
    assert!(!html.contains("<style"), "inline style");
    assert!(!html.contains(" style="), "style attribute");
    let handler = html.match_indices(" on").any(|(i, _)| {
        let rest = &html[i + 3..];
        let word = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        word > 0 && rest[word..].starts_with('=')
    });
    assert!(!handler, "inline event handler");
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let value = &html[i + attr.len()..];
            assert!(
                value.starts_with('/') && !value.starts_with("//") || value.starts_with('#'),
                "external resource: {}",
                &value[..value.find('"').unwrap()]
            );
        }
    }
}

/// The arithmetic of `sync.js`, run by node: the clock offset comes from the least-delayed
/// pongs, the expected position follows the server clock and the rate, and drift is
/// corrected by a bounded rate nudge or, when large or stubborn, a seek.
#[test]
fn sync_arithmetic() {
    // As `.mjs`: node before 20.10 reads an unmarked `.js` outside a `"type": "module"`
    // package as CommonJS (Debian's node is 18).
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("sync.mjs");
    std::fs::copy(web_dir().join("sync.js"), &copy).unwrap();
    let url = format!("file://{}", copy.display());
    let script = format!(
        r#"
import {{ Clock, expectedPositionMs, correction, SEEK_FROM_MS, MAX_NUDGE, NUDGE_MAX_MS }} from "{url}";
import assert from "node:assert/strict";
let t = 1_000_000;
const c = new Clock(() => t);
// A pong after 100 ms whose server stamp says +5000 at the midpoint.
c.pong(t - 100, t - 50 + 5000);
assert.equal(c.offset, 5000);
// A much slower pong with a skewed answer is left out.
t += 10;
c.pong(t - 1000, t + 9999);
assert.equal(c.offset, 5000, "a slow pong does not count");
// Fast samples outvote it; the fastest sets rtt.
for (const rtt of [4, 6, 5]) {{ t += 10; c.pong(t - rtt, t - rtt / 2 + 3000); }}
assert.ok(Math.abs(c.offset - 3000) < 50, "the fast samples win: " + c.offset);
assert.equal(c.rtt, 4);
assert.equal(c.serverNow(), t + c.offset);
const paused = {{ playing: false, position_ms: 1234, rate: 2, updated_at_ms: 0 }};
assert.equal(expectedPositionMs(paused, c), 1234);
const pb = {{ playing: true, position_ms: 1000, rate: 2, updated_at_ms: c.serverNow() - 3000 }};
assert.equal(expectedPositionMs(pb, c), 7000);
// Drift correction: in sync, nudge (bounded, towards the room), seek.
assert.deepEqual(correction(10, 1, null, 0), {{ rate: 1, nudging: false }});
assert.deepEqual(correction(25, 1, null, 0), {{ rate: 1, nudging: false }}, "below the nudge threshold");
const ahead = correction(50, 1, null, 0);
assert.ok(ahead.nudging && ahead.rate < 1 && ahead.rate >= 1 - MAX_NUDGE, "ahead slows: " + ahead.rate);
const behind = correction(-150, 2, null, 0);
assert.equal(behind.rate, 2 * (1 + MAX_NUDGE), "behind speeds up, capped, relative to the room's rate");
assert.deepEqual(correction(25, 1, 0, 100), {{ rate: 1 - 25 / 500, nudging: true }}, "a running nudge goes on until in sync");
assert.deepEqual(correction(12, 1, 0, 100), {{ rate: 1, nudging: false }});
assert.deepEqual(correction(SEEK_FROM_MS, 1, null, 0), {{ seek: true }});
assert.deepEqual(correction(-100, 1, 0, NUDGE_MAX_MS + 1), {{ seek: true }}, "a nudge that does not work ends in a seek");
"#
    );
    let out = std::process::Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .output()
        .expect("node is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
