//! The canary: each node publishes a probe through its command connection on its own canary
//! channels and expects it back through its subscription. A subscription that is connected
//! but no longer delivers (after a failover, a paused server, a half-open socket) is caught
//! this way: every health check of the connection itself would stay green. In a Redis
//! Cluster there is one canary per primary, since each primary's subscription is separate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use synctv_core::config::RedisConfig;
use synctv_core::time::now_ms;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::conn::Commands;

pub struct Canaries {
    timeout_ms: u64,
    last_ok: Mutex<HashMap<String, u64>>,
    /// When the current channels were subscribed (grace for the first probe).
    since: AtomicU64,
    notify: Notify,
}

impl Canaries {
    pub fn new(timeout_ms: u64) -> Self {
        Self {
            timeout_ms,
            last_ok: Mutex::new(HashMap::new()),
            since: AtomicU64::new(now_ms()),
            notify: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.last_ok.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new subscription with these canary channels.
    pub fn reset(&self, channels: &[String]) {
        let mut g = self.lock();
        g.clear();
        for c in channels {
            g.insert(c.clone(), 0);
        }
        self.since.store(now_ms(), Ordering::Release);
    }

    pub fn channels(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    pub fn received(&self, channel: &str) {
        if let Some(t) = self.lock().get_mut(channel) {
            *t = now_ms();
        }
        self.notify.notify_waiters();
    }

    /// Every canary came back within the timeout (what `/ready` reports).
    pub fn is_healthy(&self) -> bool {
        let now = now_ms();
        let g = self.lock();
        !g.is_empty()
            && g.values()
                .all(|&t| t > 0 && now.saturating_sub(t) <= self.timeout_ms)
    }

    /// Like `is_healthy`, but a fresh subscription gets one timeout of grace for its first
    /// probe (what decides to rebuild the subscription).
    pub fn is_ok(&self) -> bool {
        let now = now_ms();
        let since = self.since.load(Ordering::Acquire);
        let g = self.lock();
        g.values().all(|&t| {
            let last = if t > 0 { t } else { since };
            now.saturating_sub(last) <= self.timeout_ms
        })
    }

    /// Wait until healthy, at most `limit`.
    pub async fn wait_ok(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.notify.notified();
            if self.is_healthy() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.is_healthy();
            }
        }
    }
}

/// Publish every canary once per `canary_interval_ms` until stopped.
pub async fn publish_loop(
    canaries: std::sync::Arc<Canaries>,
    cmds: Commands,
    cfg: RedisConfig,
    stop: CancellationToken,
) {
    let command = if cfg.cluster_mode {
        "SPUBLISH"
    } else {
        "PUBLISH"
    };
    let mut tick = tokio::time::interval(Duration::from_millis(cfg.canary_interval_ms));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        for ch in canaries.channels() {
            let mut c = cmds.clone();
            let mut cmd = redis::cmd(command);
            cmd.arg(&ch).arg(now_ms());
            let probe = cmd.query_async::<redis::Value>(&mut c);
            // A slow or failed probe simply does not come back: that is what is measured.
            let _ =
                tokio::time::timeout(Duration::from_millis(cfg.canary_interval_ms), probe).await;
        }
    }
}
