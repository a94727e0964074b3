//! synctv-api: the HTTP and WebSocket server of a synctv node.
//!
//! [`run`] joins the cluster (in cluster mode: connects to Redis, or fails), applies the
//! migrations (one node at a time, under a distributed lock), serves one node on a bound
//! listener until `shutdown` resolves, then drains: refuse new sockets (and report not
//! ready), tell every client `shutdown`, wait up to `server.shutdown_drain_secs`, close the
//! rest with 1001 after their pending writes, leave the node registry, stop the listener and
//! return. The binary (`main.rs`) and the tests call the same `run`.

pub mod client_addr;
pub mod error;
pub mod extract;
pub mod http;
pub mod listener;
pub mod metrics;
pub mod service;
pub mod state;
mod throttle;
mod ticker;
mod ws;

use std::future::Future;
use std::time::Duration;

use synctv_cluster::outbound::CloseReason;
use synctv_core::config::Config;
use synctv_core::protocol::ServerFrame;
use synctv_core::store::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub use error::{Error, Result};
pub use state::AppState;

/// Serve a node on `listener` until `shutdown` resolves, then drain and return.
pub async fn run(
    mut config: Config,
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let local_addr = listener.local_addr()?;
    let configured = config.limits.max_connections;
    config.limits.max_connections =
        listener::websocket_cap(configured, listener::raise_soft_file_limit());
    if config.limits.max_connections < configured {
        tracing::warn!(
            configured,
            effective = config.limits.max_connections,
            "limits.max_connections lowered to what the process's file limit allows"
        );
    }
    let state = AppState::new(config, store, local_addr).await?;
    // Every log line of this node carries `node{node_id, node}`.
    let span = state.cluster.span().clone();
    serve(state, listener, shutdown).instrument(span).await
}

async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let local_addr = listener.local_addr()?;
    migrate(&state).await?;
    state.cluster.start().await?;
    let app = http::router(state.clone());
    let opts = listener::Options::from_config(&state.config);
    let stop_accepting = CancellationToken::new();
    let server = tokio::spawn(
        listener::serve(
            listener,
            app,
            opts,
            state.metrics.listener.clone(),
            stop_accepting.clone(),
        )
        .in_current_span(),
    );
    let ticker = tokio::spawn(ticker::run(state.clone(), stop_accepting.clone()).in_current_span());
    tracing::info!(
        addr = %local_addr,
        node_id = %state.cluster.node().node_id,
        node = %state.cluster.node().name,
        "synctv listening"
    );

    shutdown.await;
    tracing::info!("shutdown requested: draining");
    drain(&state).await;
    ticker.abort();
    state.cluster.close().await;
    // Now stop the listener; in-flight HTTP requests finish, idle keep-alives are closed.
    stop_accepting.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    state.store.close().await;
    tracing::info!("shutdown complete");
    Ok(())
}

/// Apply pending migrations, one node at a time (nodes starting together wait for the
/// first; the others then find nothing to do).
async fn migrate(state: &AppState) -> Result<()> {
    let ttl = state.config.cluster.lock_ttl_secs * 1000;
    let lock = synctv_cluster::lock::acquire(
        state.cluster.locks(),
        "migrations",
        ttl,
        Duration::from_secs(state.config.cluster.lock_ttl_secs * 2),
    )
    .await?;
    let migrated = state.store.migrate().await;
    if let Err(e) = lock.release().await {
        tracing::warn!(error = %e, "releasing the migration lock failed");
    }
    Ok(migrated?)
}

/// Refuse new sockets (503 `draining`; `/ready` turns 503 so load balancers move on), tell
/// every client `shutdown`, wait for them to leave, then close the rest with 1001 after
/// their queued frames. The HTTP listener stays up meanwhile so probes get their answer.
async fn drain(state: &AppState) {
    let conns = state.cluster.connections();
    conns.start_draining();
    // Each client its own delay in [base, base + jitter): the other nodes then see the
    // reconnects spread out instead of all at once.
    let (base, jitter) = (
        state.config.server.shutdown_reconnect_after_ms,
        state.config.server.shutdown_reconnect_jitter_ms,
    );
    let spread = std::hash::RandomState::new();
    conns.send_each(|id| {
        use std::hash::BuildHasher;
        let delay = base + spread.hash_one(id.0) % jitter.max(1);
        ServerFrame::Shutdown {
            reconnect_after_ms: delay,
        }
        .encode()
    });
    let deadline =
        tokio::time::Instant::now() + Duration::from_secs(state.config.server.shutdown_drain_secs);
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    while conns.active() > 0 && tokio::time::Instant::now() < deadline {
        poll.tick().await;
    }
    conns.close_all(CloseReason::SHUTDOWN);
    state.sessions.close();
    let grace = Duration::from_millis(state.config.ws.close_grace_ms) + Duration::from_secs(1);
    if tokio::time::timeout(grace, state.sessions.wait())
        .await
        .is_err()
    {
        tracing::warn!(left = conns.active(), "some sockets did not close in time");
    }
}
