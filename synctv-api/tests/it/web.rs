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

/// The playback arithmetic of `sync.js`, run by node: the expected position follows the
/// server clock and the rate, and the clock offset comes from the least-delayed pong.
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
import {{ Clock, expectedPositionMs }} from "{url}";
import assert from "node:assert/strict";
const c = new Clock();
const now = Date.now();
c.pong(now - 100, now + 5000 - 50);
assert.ok(Math.abs(c.offset - 5000) < 20, "offset " + c.offset);
c.pong(now - 1000, now + 9999);
assert.ok(Math.abs(c.offset - 5000) < 20, "a slower pong is ignored: " + c.offset);
const paused = {{ playing: false, position_ms: 1234, rate: 2, updated_at_ms: 0 }};
assert.equal(expectedPositionMs(paused, c), 1234);
const pb = {{ playing: true, position_ms: 1000, rate: 2, updated_at_ms: c.serverNow() - 3000 }};
const got = expectedPositionMs(pb, c);
assert.ok(Math.abs(got - 7000) < 50, "position " + got);
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
