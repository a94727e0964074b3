//! The one shared background ticker of a node: heartbeat pings and idle checks for every
//! socket (no timer per socket), and sweeps of idle rooms, expired history and stale
//! rate-limiter entries.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;

pub(crate) async fn run(state: AppState, stop: CancellationToken) {
    let ws = &state.config.ws;
    let mut heartbeat = tokio::time::interval(Duration::from_secs(ws.heartbeat_interval_secs));
    let mut sweep =
        tokio::time::interval(Duration::from_secs(state.config.rooms.sweep_interval_secs));
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let idle_ms = ws.idle_timeout_secs * 1000;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = heartbeat.tick() => {
                let hb = state.cluster.connections().heartbeat(synctv_core::time::now_ms(), idle_ms);
                if hb.closed_idle > 0 {
                    tracing::debug!(closed = hb.closed_idle, "closed idle sockets");
                }
            }
            _ = sweep.tick() => {
                state.cluster.sweep(synctv_core::time::now_ms());
                if let Some(limiter) = &state.auth_limiter {
                    limiter.retain_recent();
                }
            }
        }
    }
}
