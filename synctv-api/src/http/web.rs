//! The browser client: static HTML, CSS and ES modules from `synctv-api/web/`, embedded in
//! the binary at compile time (no files to deploy, nothing fetched from elsewhere). Owns the
//! routes `/` and `/assets/{file}`; it does not know the API the client speaks.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
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

async fn index() -> Response {
    // The page is small and names the assets: always revalidate it so an upgraded node
    // serves its own client.
    respond("text/html; charset=utf-8", INDEX, "no-cache")
}

async fn asset(Path(file): Path<String>) -> Result<Response, Error> {
    let (_, ctype, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| Error::not_found("not_found", "no such asset"))?;
    // Asset names carry no version yet, so a cache may keep them only briefly.
    Ok(respond(ctype, body, "public, max-age=300"))
}

fn respond(ctype: &'static str, body: &'static str, cache: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
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
