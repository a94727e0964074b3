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
    let max_age_ms = ws.max_connection_secs * 1000;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = heartbeat.tick() => {
                let now = synctv_core::time::now_ms();
                let hb = state.cluster.connections().heartbeat(now, idle_ms, max_age_ms);
                if hb.closed_idle > 0 || hb.closed_expired > 0 {
                    tracing::debug!(idle = hb.closed_idle, expired = hb.closed_expired, "closed sockets");
                }
            }
            _ = sweep.tick() => {
                state.cluster.sweep(synctv_core::time::now_ms());
                if let Some(limiter) = &state.auth_limiter {
                    limiter.retain_recent();
                }
                state.throttles.retain_recent();
            }
        }
    }
}
