//! The HTTP listener: accepts TCP connections and serves each with hyper's HTTP/1.1 (with
//! upgrades) into the axum router. It replaces `axum::serve`, which has no deadline on a
//! half-sent request, none on an idle keep-alive connection and no cap, so that a few
//! thousand clients that connect and wait could use up the process's file descriptors until
//! even `/health` went unanswered. Here:
//!
//! - every connection runs under the request and idle deadlines of [`phase`];
//! - at most [`Options::max_connections`] sockets are open at once (WebSockets included:
//!   their socket keeps its slot); beyond it a connection gets an immediate `503
//!   overloaded` ([`overload`]) and is closed;
//! - an accept error (e.g. `EMFILE`) is logged and retried after a short pause, never the
//!   end of the loop;
//! - on `stop`, the loop stops accepting, in-flight requests finish, idle connections are
//!   closed, and [`serve`] returns when every connection task is done.
//!
//! What it does not own: the WebSocket sessions after their upgrade (`ws`), HTTP routing
//! and errors (`http`, `error`).

mod conn;
mod fd_limit;
mod overload;
mod phase;
mod tracked;

pub use fd_limit::{connection_cap, raise_soft_file_limit, soft_file_limit, websocket_cap};
pub use phase::Timeout;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use metrics::{Counter, Gauge};
use synctv_core::config::Config;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use tracked::Slot;

/// Pause after an accept error that is not about one connection (out of file descriptors,
/// out of memory): retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// Open connections at once, already lowered to what the file limit allows.
    pub max_connections: usize,
}

impl Options {
    /// From `server.*`, with the cap lowered to what this process's open-file limit allows.
    pub fn from_config(config: &Config) -> Options {
        let s = &config.server;
        let limit = soft_file_limit();
        let max_connections = connection_cap(s.max_http_connections, limit);
        if max_connections < s.max_http_connections {
            tracing::info!(
                configured = s.max_http_connections,
                file_limit = limit,
                max_http_connections = max_connections,
                "server.max_http_connections lowered to fit the open-file limit (ulimit -n)"
            );
        }
        if max_connections < config.limits.max_connections {
            tracing::warn!(
                max_http_connections = max_connections,
                ws_max_connections = config.limits.max_connections,
                "fewer TCP connections than limits.max_connections WebSockets are possible: \
                 raise the open-file limit or server.max_http_connections"
            );
        }
        Options {
            header_read_timeout: Duration::from_secs(s.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(s.http_idle_timeout_secs),
            max_connections,
        }
    }
}

/// Handles of the listener's metrics (registered by `ApiMetrics`).
#[derive(Clone)]
pub struct ListenerMetrics {
    pub active: Gauge,
    pub refused: Counter,
    pub accept_errors: Counter,
    pub request_timeouts: Counter,
    pub idle_timeouts: Counter,
}

impl ListenerMetrics {
    fn timeout(&self, which: Timeout) {
        match which {
            Timeout::Request => self.request_timeouts.increment(1),
            Timeout::Idle => self.idle_timeouts.increment(1),
        }
    }
}

/// Serve `router` on `listener` until `stop` is cancelled and every connection has ended.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    opts: Options,
    metrics: ListenerMetrics,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(opts.max_connections));
    let lingering = Arc::new(Semaphore::new(overload::MAX_LINGERING));
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                metrics.accept_errors.increment(1);
                tracing::warn!(error = %e, "accepting a connection failed; retrying shortly");
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            metrics.refused.increment(1);
            overload::refuse(stream, &lingering);
            continue;
        };
        let slot = Slot::new(permit, metrics.active.clone());
        connections.spawn(
            conn::serve(
                stream,
                peer,
                slot,
                router.clone(),
                opts,
                metrics.clone(),
                stop.clone(),
            )
            .in_current_span(),
        );
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

/// Errors about one connection that went away before it was accepted: nothing to wait for.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
