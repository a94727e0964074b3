//! The browser client: static HTML, CSS and ES modules from `synctv-api/web/`, embedded in
//! the binary at compile time (no files to deploy, nothing fetched from elsewhere). Owns the
//! routes `/` and `/assets/{file}`; it does not know the API the client speaks.

use std::hash::{DefaultHasher, Hash, Hasher};

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::Error;
use crate::state::AppState;

/// Scripts, styles and sockets only from this node; video from anywhere (movie URLs point
/// at other hosts); no inline script, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     media-src * blob: data:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// (file name, content type, body). The names are what `index.html` and the `import`
/// statements reference under `/assets/`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", JS, include_str!("../../web/app.js")),
    ("api.js", JS, include_str!("../../web/api.js")),
    ("room.js", JS, include_str!("../../web/room.js")),
    ("sync.js", JS, include_str!("../../web/sync.js")),
    ("player.js", JS, include_str!("../../web/player.js")),
    ("admin.js", JS, include_str!("../../web/admin.js")),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../web/style.css"),
    ),
];
const JS: &str = "text/javascript; charset=utf-8";
const INDEX: &str = include_str!("../../web/index.html");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{file}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    respond(&headers, "text/html; charset=utf-8", INDEX)
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Result<Response, Error> {
    let (_, ctype, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| Error::not_found("not_found", "no such asset"))?;
    Ok(respond(&headers, ctype, body))
}

/// Every answer is `no-cache` with an ETag of its content: a browser revalidates (a 304
/// costs a round trip, no body) and never runs modules of two versions together after an
/// upgrade. The hash is SipHash with fixed keys: the same for the same bytes on every node
/// built by the same compiler, which is all an ETag needs.
fn respond(req: &HeaderMap, ctype: &'static str, body: &'static str) -> Response {
    let mut h = DefaultHasher::new();
    body.hash(&mut h);
    let etag = format!("\"{:016x}\"", h.finish());
    let fresh = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        body.into_response()
    };
    let h = resp.headers_mut();
    if !fresh {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}
