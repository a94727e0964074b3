//! The WebSocket handshake (RFC 6455 over HTTP/1.1), done here instead of by axum's
//! `WebSocketUpgrade` so that the session gets the raw connection before tungstenite wraps
//! it. The welcome, as large as the room, is written straight to that connection
//! ([`write_text_frames`]). Going through tungstenite would leave a buffer of the welcome's
//! size allocated for the socket's lifetime: tungstenite formats each frame into one
//! per-socket buffer, and that buffer never shrinks. With rooms of 1000 members that buffer
//! was most of a socket's memory (docs/benchmarks.md, "Memory per connection").

use std::future::Future;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version, header};
use axum::response::Response;
use bytes::Bytes;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tungstenite::protocol::frame::Frame;
use tungstenite::protocol::frame::coding::{Data, OpCode};

use crate::error::Error;

/// The connection once the handshake is answered.
pub(crate) type Io = TokioIo<Upgraded>;

/// A valid WebSocket upgrade request: answer it with [`WsUpgrade::accept`].
pub(crate) struct WsUpgrade {
    on_upgrade: OnUpgrade,
    accept: HeaderValue,
}

/// A request that is not a WebSocket upgrade: 426 `upgrade_required`, saying why.
fn not_upgrade(why: &str) -> Error {
    Error::new(
        StatusCode::UPGRADE_REQUIRED,
        "upgrade_required",
        format!("this route only accepts WebSocket upgrades ({why})"),
    )
}

impl<S: Send + Sync> FromRequestParts<S> for WsUpgrade {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        if parts.version > Version::HTTP_11 {
            return Err(not_upgrade("only HTTP/1.1 upgrades are served"));
        }
        if parts.method != Method::GET {
            return Err(not_upgrade("request method must be `GET`"));
        }
        if !has_token(&parts.headers, header::CONNECTION, "upgrade") {
            return Err(not_upgrade("Connection header did not include 'upgrade'"));
        }
        if !is(&parts.headers, header::UPGRADE, "websocket") {
            return Err(not_upgrade("`Upgrade` header did not include 'websocket'"));
        }
        if !is(&parts.headers, header::SEC_WEBSOCKET_VERSION, "13") {
            return Err(not_upgrade(
                "`Sec-WebSocket-Version` header did not include '13'",
            ));
        }
        let key = parts
            .headers
            .get(header::SEC_WEBSOCKET_KEY)
            .ok_or(not_upgrade("`Sec-WebSocket-Key` header missing"))?;
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(not_upgrade("this connection cannot be upgraded"))?;
        Ok(WsUpgrade {
            on_upgrade,
            accept: HeaderValue::try_from(accept).expect("base64 is a valid header value"),
        })
    }
}

impl WsUpgrade {
    /// The 101 answer. `run` gets the connection once hyper has sent the answer and handed
    /// the connection over; a connection lost before that is only logged.
    pub(crate) fn accept<F, Fut>(self, run: F) -> Response
    where
        F: FnOnce(Io) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => run(TokioIo::new(upgraded)).await,
                Err(e) => tracing::debug!(error = %e, "websocket upgrade failed"),
            }
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, HeaderValue::from_static("upgrade"))
            .header(header::UPGRADE, HeaderValue::from_static("websocket"))
            .header(header::SEC_WEBSOCKET_ACCEPT, self.accept)
            .body(Body::empty())
            .expect("a valid 101 answer")
    }
}

/// Write each of `frames` (serialized JSON, hence UTF-8) as one unfragmented text frame,
/// straight to the connection, before tungstenite owns it. Each frame is formatted into a
/// buffer of its own that is freed once written.
pub(crate) async fn write_text_frames(io: &mut Io, frames: Vec<Bytes>) -> std::io::Result<()> {
    for payload in frames {
        let frame = Frame::message(payload, OpCode::Data(Data::Text), true);
        let mut buf = Vec::with_capacity(frame.len());
        frame.format(&mut buf).map_err(std::io::Error::other)?;
        io.write_all(&buf).await?;
    }
    io.flush().await
}

fn is(headers: &HeaderMap, name: HeaderName, value: &str) -> bool {
    headers
        .get(name)
        .is_some_and(|h| h.as_bytes().eq_ignore_ascii_case(value.as_bytes()))
}

/// `Connection` is a comma-separated list of tokens (`keep-alive, Upgrade` from Firefox).
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}
